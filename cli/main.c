#include <stdio.h>
#include "shrink/shrink.h"
int main(void) { printf("shrink %s\n", SHRINK_VERSION); return 0; }
