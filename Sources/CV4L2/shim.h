// libv4l2 (format conversion + device access wrappers) and the kernel's V4L2 ABI.
#include <libv4l2.h>
#include <linux/videodev2.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
