// libqrencode: draws the VietQR payload as a QR code matrix, locally (no image service).
#include <qrencode.h>
