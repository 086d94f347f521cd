// Zstandard (Debian's libzstd-dev), imported into Swift as the CZstd module: the history store compresses its chunks.
#include <zstd.h>
