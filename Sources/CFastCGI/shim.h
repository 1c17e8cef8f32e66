// libfcgi's request API (fcgiapp.h); FCGX_FPrintF is variadic, so Phim writes with FCGX_PutStr.
#include <fcgiapp.h>

#include <malloc.h>

/* The FastCGI process keeps up to `bytes` of freed memory instead of giving it back at once:
   glibc's default trimming made the worker threads' arenas shrink and grow on every request. */
static inline void phim_keep_freed_memory(int bytes) { mallopt(M_TRIM_THRESHOLD, bytes); }

