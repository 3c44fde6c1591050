/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/*
 * An in-process upstream that speaks OpenAI Chat Completions
 * (POST …/chat/completions) and Anthropic Messages (POST …/v1/messages) as
 * their documentation describes, streaming or not as the request asks, with
 * faults. What it does is chosen by the upstream model name in the request
 * body, so one mock serves a whole fallback chain:
 *
 *   "ok"            answers the text "Hello from the mock upstream."
 *   "tool"          answers with one tool call get_weather({"city":"Paris","unit":"c"})
 *   "think"         thinks ("Let me think.", signature "sig-123"), then answers
 *   "429"           429 with Retry-After: 7 (a rate_limit error body)
 *   "429-absurd"    429 with Retry-After: 600000
 *   "500", "529"    that status, with the dialect's error body
 *   "hang"          never answers
 *   "reset"         closes the connection before any byte
 *   "reset-mid"     starts a stream (message start, one text delta) then
 *                   closes the connection
 *   "slow"          waits 1.5 s before the first event, then as "ok"
 *   "pause-mid"     as "ok", silent for 0.7 s after the first text delta
 *   "context"       400 with a context-window error
 *
 * Streams send one event every 20 ms.
 *
 * A real configuration's model names can be pointed at the mock too:
 * lctl_mock_upstream_set_behaviour() makes any upstream model name answer
 * as one of the behaviours above (answers still name the model asked for).
 */
typedef struct _LctlMockUpstream LctlMockUpstream;

typedef struct
{
  char               *path;
  char               *model;
  SoupMessageHeaders *headers;
  JsonNode           *body;
} LctlMockRequest;

LctlMockUpstream *lctl_mock_upstream_new (void);
void              lctl_mock_upstream_free (LctlMockUpstream *self);

/* "http://127.0.0.1:PORT" */
const char *lctl_mock_upstream_get_base (LctlMockUpstream *self);

/* Requests for the upstream model @model are answered as @behaviour (one
 * of the names above); %NULL forgets the mapping. Takes effect at the next
 * request, so a test can change an upstream's health between requests. */
void lctl_mock_upstream_set_behaviour (LctlMockUpstream *self,
                                       const char       *model,
                                       const char       *behaviour);

/* Every request received, in order. */
GPtrArray *lctl_mock_upstream_get_requests (LctlMockUpstream *self);
unsigned   lctl_mock_upstream_count (LctlMockUpstream *self,
                                     const char       *model);
/* Streams the mock was still writing when the client went away. */
unsigned lctl_mock_upstream_get_disconnects (LctlMockUpstream *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlMockUpstream, lctl_mock_upstream_free)

G_END_DECLS
