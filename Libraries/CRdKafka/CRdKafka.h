// Headers come from Debian's librdkafka-dev; the binaries load librdkafka >= 2.16 at run time
// (see Package.swift and docs/architecture.md).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
