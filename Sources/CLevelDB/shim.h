// LevelDB's C API (Debian's libleveldb-dev), imported into Swift as the CLevelDB module.
#include <leveldb/c.h>
