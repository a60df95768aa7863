/*
 * lmdb-tools: the fast path of pz-load's JSON lines, through simdjson.
 *
 * jansson (pz_json_to_row()) defines what a JSON line means and says what
 * is wrong with a bad one.  pz_json_fast_row() builds the same record for
 * the plain lines bulk exports are made of, at about ten times the speed,
 * and hands every other line back to the jansson path: one with an escape
 * or a control character, a JSON real, a duplicate or unknown key, a value
 * of the wrong type or out of range, an error of any kind.  So the fast
 * path never accepts a line that jansson would reject, and never writes an
 * error message of its own.
 */

#ifndef PZ_JSON_FAST_H_INCLUDED_
#define PZ_JSON_FAST_H_INCLUDED_

#include "pz_tool.h"

#ifdef __cplusplus
extern "C" {
#endif


typedef struct pz_json_fast_s  pz_json_fast_t;

/* a parser for one thread; NULL when out of memory */
pz_json_fast_t *pz_json_fast_new(void);
void pz_json_fast_free(pz_json_fast_t *fp);

/*
 * One JSON line (no newline) to a record in row->rec, as pz_json_to_row()
 * would build it from JSON lines (csv 0).  Returns 0 with the row built,
 * or 1: take the line to jansson.  The row's strings point into fp until
 * the next call.
 */
int pz_json_fast_row(pz_json_fast_t *fp, pz_row_t *row, const char *line,
    size_t len, const pz_schema_t *s, int kind, int64_t now);


#ifdef __cplusplus
}
#endif

#endif /* PZ_JSON_FAST_H_INCLUDED_ */
