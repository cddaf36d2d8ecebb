// Video files (field recordings) decoded through FFmpeg's libavformat/libavcodec, converted to RGB24
// with libswscale (Debian: libavformat-dev, libavcodec-dev, libswscale-dev).
#include "rk_image_codecs.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct rk_video {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    struct SwsContext *sws;
    AVPacket *pkt;
    AVFrame *frame;
    int stream;
    int width, height;
    int draining;
    double time_base;
};

static void set_err(char *err, size_t errlen, const char *path, const char *what, int code) {
    char buf[128] = "";
    if (code < 0) av_strerror(code, buf, sizeof buf);
    if (err && errlen) snprintf(err, errlen, "%s: %s%s%s", path, what, buf[0] ? ": " : "", buf);
}

rk_video *rk_video_open(const char *path, uint64_t max_pixels, int *width, int *height, double *fps, long *frames, char *err, size_t errlen) {
    // A regular file only: FFmpeg would otherwise block on a FIFO or open a URL (network) or a device.
    struct stat info;
    if (stat(path, &info) != 0) {
        if (err && errlen) snprintf(err, errlen, "%s: cannot open video: %s", path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(info.st_mode)) {
        if (err && errlen) snprintf(err, errlen, "%s: not a regular file (%s)", path, rk_file_kind(info.st_mode));
        return NULL;
    }
    // Errors come back as named errors; FFmpeg's own log lines would only repeat them on stderr.
    av_log_set_level(AV_LOG_FATAL);
    rk_video *v = calloc(1, sizeof *v);
    if (!v) { set_err(err, errlen, path, "out of memory", 0); return NULL; }
    // "file:" so that a name with a colon is never taken for a protocol.
    char url[4096];
    if (snprintf(url, sizeof url, "file:%s", path) >= (int)sizeof url) { set_err(err, errlen, path, "path too long", 0); free(v); return NULL; }
    int rc = avformat_open_input(&v->fmt, url, NULL, NULL);
    if (rc < 0) { set_err(err, errlen, path, "cannot open video", rc); free(v); return NULL; }
    if ((rc = avformat_find_stream_info(v->fmt, NULL)) < 0) { set_err(err, errlen, path, "no stream information", rc); goto fail; }
    const AVCodec *codec = NULL;
    v->stream = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (v->stream < 0 || !codec) { set_err(err, errlen, path, "no decodable video stream", v->stream); goto fail; }
    AVStream *st = v->fmt->streams[v->stream];
    v->dec = avcodec_alloc_context3(codec);
    if ((rc = avcodec_parameters_to_context(v->dec, st->codecpar)) < 0 || (rc = avcodec_open2(v->dec, codec, NULL)) < 0) {
        set_err(err, errlen, path, "cannot open the decoder", rc);
        goto fail;
    }
    v->width = v->dec->width;
    v->height = v->dec->height;
    if (v->width <= 0 || v->height <= 0) { set_err(err, errlen, path, "video has no frame size", 0); goto fail; }
    if (max_pixels && (uint64_t)v->width * (uint64_t)v->height > max_pixels) {
        if (err && errlen)
            snprintf(err, errlen, "%s: video frames are %dx%d = %llu pixels, more than the limit of %llu "
                     "(--max-image-pixels / REFLEX_MAX_IMAGE_PIXELS)", path, v->width, v->height,
                     (unsigned long long)v->width * (unsigned long long)v->height, (unsigned long long)max_pixels);
        goto fail;
    }
    v->pkt = av_packet_alloc();
    v->frame = av_frame_alloc();
    v->time_base = av_q2d(st->time_base);
    *width = v->width;
    *height = v->height;
    AVRational r = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    *fps = r.den ? av_q2d(r) : 0;
    *frames = st->nb_frames;
    return v;
fail:
    rk_video_close(v);
    return NULL;
}

int rk_video_next(rk_video *v, uint8_t *rgb, double *seconds, char *err, size_t errlen) {
    for (;;) {
        int rc = avcodec_receive_frame(v->dec, v->frame);
        if (rc == 0) {
            // A frame the decoder marks as corrupt (concealed errors) is a bad frame, not pixels to act on.
            if ((v->frame->flags & AV_FRAME_FLAG_CORRUPT) || v->frame->decode_error_flags) {
                av_frame_unref(v->frame);
                set_err(err, errlen, "video", "corrupt frame", 0);
                return -1;
            }
            if (v->frame->width <= 0 || v->frame->height <= 0) {
                av_frame_unref(v->frame);
                set_err(err, errlen, "video", "frame without a size", 0);
                return -1;
            }
            v->sws = sws_getCachedContext(v->sws, v->frame->width, v->frame->height, v->frame->format, v->width, v->height,
                                          AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
            if (!v->sws) { set_err(err, errlen, "video", "no RGB24 conversion for this pixel format", 0); return -1; }
            uint8_t *dst[4] = {rgb, NULL, NULL, NULL};
            int stride[4] = {v->width * 3, 0, 0, 0};
            if (sws_scale(v->sws, (const uint8_t *const *)v->frame->data, v->frame->linesize, 0, v->frame->height, dst, stride) <= 0) {
                av_frame_unref(v->frame);
                set_err(err, errlen, "video", "RGB24 conversion failed", 0);
                return -1;
            }
            int64_t ts = v->frame->best_effort_timestamp;
            *seconds = ts == AV_NOPTS_VALUE ? -1 : ts * v->time_base;
            av_frame_unref(v->frame);
            return 1;
        }
        if (rc == AVERROR_EOF) return 0;
        if (rc != AVERROR(EAGAIN)) { set_err(err, errlen, "video", "decode error", rc); return -1; }
        if (v->draining) return 0;
        rc = av_read_frame(v->fmt, v->pkt);
        if (rc == AVERROR_EOF) {
            v->draining = 1;
            avcodec_send_packet(v->dec, NULL);
            continue;
        }
        if (rc < 0) { set_err(err, errlen, "video", "read error", rc); return -1; }
        if (v->pkt->stream_index == v->stream) {
            rc = avcodec_send_packet(v->dec, v->pkt);
            if (rc < 0 && rc != AVERROR(EAGAIN)) { av_packet_unref(v->pkt); set_err(err, errlen, "video", "corrupt packet", rc); return -1; }
        }
        av_packet_unref(v->pkt);
    }
}

int rk_video_rewind(rk_video *v) {
    int rc = av_seek_frame(v->fmt, v->stream, 0, AVSEEK_FLAG_BACKWARD);
    if (rc < 0) rc = avformat_seek_file(v->fmt, -1, INT64_MIN, 0, 0, 0);
    avcodec_flush_buffers(v->dec);
    v->draining = 0;
    return rc < 0 ? -1 : 0;
}

void rk_video_close(rk_video *v) {
    if (!v) return;
    if (v->sws) sws_freeContext(v->sws);
    if (v->frame) av_frame_free(&v->frame);
    if (v->pkt) av_packet_free(&v->pkt);
    if (v->dec) avcodec_free_context(&v->dec);
    if (v->fmt) avformat_close_input(&v->fmt);
    free(v);
}
