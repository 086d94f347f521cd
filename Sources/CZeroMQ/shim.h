// The whole libzmq C API, imported into Swift as the CZeroMQ module.
#include <zmq.h>
