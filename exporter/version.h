/* The build's identity; the Makefile writes revision.h from git. */
#ifndef REPLMON_VERSION_H
#define REPLMON_VERSION_H

#include "revision.h"

#define REPLMON_VERSION "0.1.0"

#endif
