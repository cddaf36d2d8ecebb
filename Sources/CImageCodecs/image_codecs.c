// PNG (libpng's simplified png_image API) and JPEG (libjpeg-turbo) decoding to RGB8; PNG writing.
#include "rk_image_codecs.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

static int decode_png(const char *path, uint8_t **pixels, int *w, int *h, char *err, size_t errlen) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) {
        snprintf(err, errlen, "invalid PNG: %s", img.message);
        return 1;
    }
    img.format = PNG_FORMAT_RGB;
    size_t bytes = PNG_IMAGE_SIZE(img);
    uint8_t *buf = malloc(bytes ? bytes : 1);
    if (!buf) {
        png_image_free(&img);
        snprintf(err, errlen, "out of memory for %zu bytes", bytes);
        return 1;
    }
    if (!png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        snprintf(err, errlen, "invalid PNG: %s", img.message);
        free(buf);
        png_image_free(&img);
        return 1;
    }
    *pixels = buf;
    *w = (int)img.width;
    *h = (int)img.height;
    return 0;
}

struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

static void jpeg_fail(j_common_ptr cinfo) {
    struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

static int decode_jpeg(FILE *f, uint8_t **pixels, int *w, int *h, char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_err jerr;
    uint8_t *volatile buf = NULL;
    cinfo.err = jpeg_std_error(&jerr.mgr);
    jerr.mgr.error_exit = jpeg_fail;
    jerr.mgr.output_message = NULL;
    if (setjmp(jerr.jump)) {
        snprintf(err, errlen, "invalid JPEG: %s", jerr.message);
        jpeg_destroy_decompress(&cinfo);
        free(buf);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * 3;
    buf = malloc(stride * cinfo.output_height + 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = buf + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    *w = (int)cinfo.output_width;
    *h = (int)cinfo.output_height;
    jpeg_destroy_decompress(&cinfo);
    *pixels = buf;
    return 0;
}

int rk_decode_image_file(const char *path, uint8_t **pixels, int *width, int *height, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return 1;
    }
    unsigned char sig[8] = {0};
    size_t n = fread(sig, 1, sizeof sig, f);
    int rc;
    if (n >= 8 && png_sig_cmp(sig, 0, 8) == 0) {
        fclose(f);
        rc = decode_png(path, pixels, width, height, err, errlen);
    } else if (n >= 3 && sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF) {
        rewind(f);
        rc = decode_jpeg(f, pixels, width, height, err, errlen);
        fclose(f);
    } else {
        fclose(f);
        snprintf(err, errlen, "not a PNG or JPEG file (unrecognised signature)");
        rc = 1;
    }
    return rc;
}

int rk_write_png(const char *path, const uint8_t *pixels, int width, int height, char *err, size_t errlen) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)width;
    img.height = (png_uint_32)height;
    img.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&img, path, 0, pixels, 0, NULL)) {
        snprintf(err, errlen, "cannot write PNG: %s", img.message);
        return 1;
    }
    return 0;
}
