// libfcgi's request API (fcgiapp.h); FCGX_FPrintF is variadic, so Phim writes with FCGX_PutStr.
#include <fcgiapp.h>
