/* The build's identity; the Makefile passes REPLMON_REVISION from git. */
#ifndef REPLMON_VERSION_H
#define REPLMON_VERSION_H

#define REPLMON_VERSION "0.1.0"
#ifndef REPLMON_REVISION
#define REPLMON_REVISION "unknown"
#endif

#endif
