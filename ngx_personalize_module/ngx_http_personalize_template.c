#include "ngx_http_personalize.h"
