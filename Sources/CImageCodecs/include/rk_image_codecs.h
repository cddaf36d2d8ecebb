// Image file decoding through Debian's libpng and libjpeg-turbo. A thin C layer because libjpeg
// reports errors with setjmp/longjmp, which must not cross Swift frames.
#ifndef REFLEX_IMAGE_CODECS_H
#define REFLEX_IMAGE_CODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Decodes a PNG or JPEG file (detected by its signature) to 8-bit RGB. Only regular files are read.
/// An image whose header declares more than `max_pixels` pixels (0: no limit) is rejected before its
/// pixels are allocated. Corrupt or truncated data is an error (libjpeg's warnings included), never a
/// partially grey image. On success returns 0 and sets *pixels (malloc'ed, width*height*3 bytes; free
/// with free()), *width and *height. On failure returns non-zero and writes a message into err.
int rk_decode_image_file(const char *path, uint64_t max_pixels, uint8_t **pixels, int *width, int *height, char *err, size_t errlen);

/// "a FIFO", "a directory", … for a file mode that is not a regular file (error messages).
const char *rk_file_kind(unsigned mode);

/// Encodes 8-bit RGB pixels as a PNG file. Returns 0 on success, else non-zero with a message in err.
int rk_write_png(const char *path, const uint8_t *pixels, int width, int height, char *err, size_t errlen);

/// An animated GIF being written (giflib). Frames are RGB24, width*height*3 bytes.
typedef struct rk_gif rk_gif;
/// Creates `path`; `delay_cs` is each frame's display time in 1/100 s. NULL on error (message in err).
rk_gif *rk_gif_open(const char *path, int width, int height, int delay_cs, char *err, size_t errlen);
int rk_gif_add_frame(rk_gif *gif, const uint8_t *rgb, char *err, size_t errlen);
/// Finishes the file and frees `gif` (also on error).
int rk_gif_close(rk_gif *gif, char *err, size_t errlen);

/// A video file being decoded (FFmpeg). Frames come out as RGB24 at the stream's size.
typedef struct rk_video rk_video;
/// Opens `path` (a regular file); sets the frame size, the frame rate (0 if unknown) and the frame count
/// (0 if unknown). Frames of more than `max_pixels` pixels (0: no limit) are refused here.
rk_video *rk_video_open(const char *path, uint64_t max_pixels, int *width, int *height, double *fps, long *frames, char *err, size_t errlen);
/// Decodes the next frame into `rgb` (width*height*3 bytes): 1 = a frame, 0 = end of file, -1 = error
/// (a read or decode error, or a frame the decoder marks corrupt).
int rk_video_next(rk_video *video, uint8_t *rgb, double *seconds, char *err, size_t errlen);
/// Seeks back to the first frame. 0 on success.
int rk_video_rewind(rk_video *video);
void rk_video_close(rk_video *video);

#ifdef __cplusplus
}
#endif

#endif
