// Animated GIF recording through giflib (Debian: libgif-dev): a fixed 6x7x6 colour cube palette
// (252 entries; cheap, deterministic, good enough to watch a robot), looping, one delay per frame.
#include "rk_image_codecs.h"

#include <gif_lib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rk_gif {
    GifFileType *file;
    int width, height, delay_cs;
    GifByteType *row;
};

static void set_err(char *err, size_t errlen, const char *path, const char *what, int code) {
    if (err && errlen) snprintf(err, errlen, "%s: %s (%s)", path, what, GifErrorString(code) ? GifErrorString(code) : "?");
}

static inline int cube_index(const uint8_t *p) {
    int r = (p[0] * 5 + 127) / 255, g = (p[1] * 6 + 127) / 255, b = (p[2] * 5 + 127) / 255;
    return (r * 7 + g) * 6 + b;
}

rk_gif *rk_gif_open(const char *path, int width, int height, int delay_cs, char *err, size_t errlen) {
    int code = 0;
    GifFileType *f = EGifOpenFileName(path, false, &code);
    if (!f) { set_err(err, errlen, path, "cannot create GIF", code); return NULL; }
    ColorMapObject *map = GifMakeMapObject(256, NULL);
    if (!map) { set_err(err, errlen, path, "out of memory", D_GIF_ERR_NOT_ENOUGH_MEM); EGifCloseFile(f, &code); return NULL; }
    for (int r = 0; r < 6; r++)
        for (int g = 0; g < 7; g++)
            for (int b = 0; b < 6; b++) {
                GifColorType *c = &map->Colors[(r * 7 + g) * 6 + b];
                c->Red = (GifByteType)(r * 255 / 5);
                c->Green = (GifByteType)(g * 255 / 6);
                c->Blue = (GifByteType)(b * 255 / 5);
            }
    EGifSetGifVersion(f, true);
    if (EGifPutScreenDesc(f, width, height, 8, 0, map) == GIF_ERROR) {
        set_err(err, errlen, path, "EGifPutScreenDesc", f->Error);
        GifFreeMapObject(map);
        EGifCloseFile(f, &code);
        return NULL;
    }
    GifFreeMapObject(map);
    // NETSCAPE2.0 application extension: loop forever.
    unsigned char app[] = "NETSCAPE2.0";
    unsigned char loop[] = {1, 0, 0};
    rk_gif *g = calloc(1, sizeof *g);
    if (EGifPutExtensionLeader(f, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR || EGifPutExtensionBlock(f, 11, app) == GIF_ERROR ||
        EGifPutExtensionBlock(f, 3, loop) == GIF_ERROR || EGifPutExtensionTrailer(f) == GIF_ERROR || !g ||
        !(g->row = malloc((size_t)width))) {
        set_err(err, errlen, path, "cannot write the GIF header", f->Error);
        if (g) free(g->row);
        free(g);
        EGifCloseFile(f, &code);
        return NULL;
    }
    g->file = f;
    g->width = width;
    g->height = height;
    g->delay_cs = delay_cs;
    return g;
}

int rk_gif_add_frame(rk_gif *g, const uint8_t *rgb, char *err, size_t errlen) {
    GraphicsControlBlock gcb = {.DisposalMode = DISPOSE_DO_NOT, .UserInputFlag = false, .DelayTime = g->delay_cs,
                                .TransparentColor = NO_TRANSPARENT_COLOR};
    GifByteType ext[4];
    EGifGCBToExtension(&gcb, ext);
    if (EGifPutExtension(g->file, GRAPHICS_EXT_FUNC_CODE, 4, ext) == GIF_ERROR ||
        EGifPutImageDesc(g->file, 0, 0, g->width, g->height, false, NULL) == GIF_ERROR) {
        set_err(err, errlen, "gif", "cannot add frame", g->file->Error);
        return -1;
    }
    for (int y = 0; y < g->height; y++) {
        const uint8_t *p = rgb + (size_t)y * g->width * 3;
        for (int x = 0; x < g->width; x++) g->row[x] = (GifByteType)cube_index(p + 3 * x);
        if (EGifPutLine(g->file, g->row, g->width) == GIF_ERROR) {
            set_err(err, errlen, "gif", "cannot write pixels", g->file->Error);
            return -1;
        }
    }
    return 0;
}

int rk_gif_close(rk_gif *g, char *err, size_t errlen) {
    int code = 0, rc = EGifCloseFile(g->file, &code);
    free(g->row);
    free(g);
    if (rc == GIF_ERROR) { set_err(err, errlen, "gif", "cannot finish GIF", code); return -1; }
    return 0;
}
