// libsodium: password hashing (Argon2id), SHA-256, HMAC-SHA-256 and random bytes.
#include <sodium.h>
