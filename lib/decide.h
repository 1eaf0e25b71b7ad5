/*
 * decide.h - what a turn's messages ask for, as actions (lib/actions):
 * by the rules, or by the model through the same actions as tools.
 * Internal to the conversation (see turn.h).
 */
#ifndef OVIDIO_DECIDE_H
#define OVIDIO_DECIDE_H

#include <stdbool.h>
#include <stddef.h>

struct turn;

/* By rules: each message of the turn that asks for something, in order
 * (small talk among them adds nothing). Always answers. */
void decide_rules_turn(struct turn *t);

/* By the model's tools. OV_OK when it produced the replies; otherwise
 * the caller drops what it said and decides by rules. ids are the turn's
 * message ids (left out of the history the model reads). */
int decide_model(struct turn *t, const char *const *ids, size_t nids);

/* Internal to lib/decide*.c: the model's tools alone (decide_model adds
 * what every turn learns), and whether the rules read a data question in
 * text. */
int decide_model_tools(struct turn *t, const char *const *ids, size_t nids);
bool decide_asks_for_data(const char *text);

#endif
