// PNG (libpng's simplified png_image API) and JPEG (libjpeg-turbo) decoding to RGB8; PNG writing.
#include "rk_image_codecs.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

/// Rejects an image whose header declares more than `max_pixels` pixels (0: no limit), before any
/// pixel memory is allocated.
static int too_large(uint64_t width, uint64_t height, uint64_t max_pixels, char *err, size_t errlen) {
    if (width == 0 || height == 0) {
        snprintf(err, errlen, "image declares a %llux%llu frame", (unsigned long long)width, (unsigned long long)height);
        return 1;
    }
    if (max_pixels && width * height > max_pixels) {
        snprintf(err, errlen, "image declares %llux%llu = %llu pixels, more than the limit of %llu "
                 "(--max-image-pixels / REFLEX_MAX_IMAGE_PIXELS)", (unsigned long long)width, (unsigned long long)height,
                 (unsigned long long)(width * height), (unsigned long long)max_pixels);
        return 1;
    }
    return 0;
}

static int decode_png(FILE *f, uint64_t max_pixels, uint8_t **pixels, int *w, int *h, char *err, size_t errlen) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    // The simplified API reads the header here (errors are caught inside libpng and reported in
    // img.message; warnings are collected there too and never abort the process).
    if (!png_image_begin_read_from_stdio(&img, f)) {
        snprintf(err, errlen, "invalid PNG: %s", img.message);
        return 1;
    }
    if (too_large(img.width, img.height, max_pixels, err, errlen)) {
        png_image_free(&img);
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

/// Fatal errors: format the message and leave through the setjmp in decode_jpeg.
static void jpeg_fail(j_common_ptr cinfo) {
    struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

/// libjpeg calls this for warnings (level -1: corrupt or truncated data, e.g. "Premature end of JPEG
/// file", after which it would return made-up grey pixels) and trace messages (level >= 0). A warning
/// is a decode failure: a frame with corrupt data must not reach the model. Trace messages are dropped.
static void jpeg_message(j_common_ptr cinfo, int level) {
    if (level < 0) jpeg_fail(cinfo);
}

/// libjpeg's default would print to stderr; nothing is printed (the message becomes the error text).
static void jpeg_output(j_common_ptr cinfo) { (void)cinfo; }

static int decode_jpeg(FILE *f, uint64_t max_pixels, uint8_t **pixels, int *w, int *h, char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_err jerr;
    uint8_t *volatile buf = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jerr.mgr);
    jerr.mgr.error_exit = jpeg_fail;
    jerr.mgr.emit_message = jpeg_message;
    jerr.mgr.output_message = jpeg_output;
    jerr.message[0] = 0;
    if (setjmp(jerr.jump)) {
        snprintf(err, errlen, "invalid JPEG: %s", jerr.message);
        jpeg_destroy_decompress(&cinfo);
        free(buf);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    if (too_large(cinfo.image_width, cinfo.image_height, max_pixels, err, errlen)) {
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 3) {
        snprintf(err, errlen, "invalid JPEG: %d output components, expected RGB", cinfo.output_components);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    size_t stride = (size_t)cinfo.output_width * 3;
    buf = malloc(stride * cinfo.output_height + 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = buf + stride * cinfo.output_scanline;
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
            snprintf(err, errlen, "invalid JPEG: no data at row %u", cinfo.output_scanline);
            jpeg_destroy_decompress(&cinfo);
            free(buf);
            return 1;
        }
    }
    jpeg_finish_decompress(&cinfo);
    *w = (int)cinfo.output_width;
    *h = (int)cinfo.output_height;
    jpeg_destroy_decompress(&cinfo);
    *pixels = buf;
    return 0;
}

/// What a non-regular file is, in the words the Swift loader uses (ModelFile).
const char *rk_file_kind(unsigned mode) {
    switch (mode & S_IFMT) {
    case S_IFIFO: return "a FIFO";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFDIR: return "a directory";
    case S_IFSOCK: return "a socket";
    default: return "not a file";
    }
}

int rk_decode_image_file(const char *path, uint64_t max_pixels, uint8_t **pixels, int *width, int *height, char *err, size_t errlen) {
    // Regular files only: a FIFO or device named frame.png would block the reader forever. O_NONBLOCK
    // so that opening a FIFO with no writer does not block either.
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "not a regular file (%s)", rk_file_kind(st.st_mode));
        close(fd);
        return 1;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        close(fd);
        return 1;
    }
    unsigned char sig[8] = {0};
    size_t n = fread(sig, 1, sizeof sig, f);
    int rc;
    rewind(f);
    if (n >= 8 && png_sig_cmp(sig, 0, 8) == 0) {
        rc = decode_png(f, max_pixels, pixels, width, height, err, errlen);
    } else if (n >= 3 && sig[0] == 0xFF && sig[1] == 0xD8 && sig[2] == 0xFF) {
        rc = decode_jpeg(f, max_pixels, pixels, width, height, err, errlen);
    } else if (n == 0) {
        snprintf(err, errlen, "empty file");
        rc = 1;
    } else {
        snprintf(err, errlen, "not a PNG or JPEG file (unrecognised signature)");
        rc = 1;
    }
    fclose(f);
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
