// libv4l2 (format conversion + device access wrappers) and the kernel's V4L2 ABI.
#include <libv4l2.h>
#include <linux/videodev2.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

// The ioctl request numbers are function-like macros Swift cannot import: expose them as constants.
static inline unsigned long rk_vidioc_querycap(void) { return VIDIOC_QUERYCAP; }
static inline unsigned long rk_vidioc_s_fmt(void) { return VIDIOC_S_FMT; }
static inline unsigned long rk_vidioc_g_fmt(void) { return VIDIOC_G_FMT; }
static inline unsigned long rk_vidioc_s_parm(void) { return VIDIOC_S_PARM; }
static inline unsigned long rk_vidioc_reqbufs(void) { return VIDIOC_REQBUFS; }
static inline unsigned long rk_vidioc_querybuf(void) { return VIDIOC_QUERYBUF; }
static inline unsigned long rk_vidioc_qbuf(void) { return VIDIOC_QBUF; }
static inline unsigned long rk_vidioc_dqbuf(void) { return VIDIOC_DQBUF; }
static inline unsigned long rk_vidioc_streamon(void) { return VIDIOC_STREAMON; }
static inline unsigned long rk_vidioc_streamoff(void) { return VIDIOC_STREAMOFF; }

// libv4l2's v4l2_open and v4l2_ioctl are variadic, which Swift cannot call: fixed-argument wrappers.
static inline int rk_v4l2_open(const char *path, int flags) { return v4l2_open(path, flags); }
static inline int rk_v4l2_ioctl(int fd, unsigned long request, void *arg) { return v4l2_ioctl(fd, request, arg); }
