// Linux file calls that Swift's Glibc module leaves out (glibc declares them only under _GNU_SOURCE).
#include <stdint.h>

// sync_file_range(2): write back a range of a file's dirty pages, without a file-system journal commit.
int sync_file_range(int fd, int64_t offset, int64_t nbytes, unsigned int flags);
#define BANK_SYNC_FILE_RANGE_WAIT_BEFORE 1u
#define BANK_SYNC_FILE_RANGE_WRITE 2u
#define BANK_SYNC_FILE_RANGE_WAIT_AFTER 4u
