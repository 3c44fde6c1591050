/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * LctlSseEvent:
 * @event: The `event:` name, or %NULL when the event had none.
 * @data: The `data:` lines joined with `\n`.
 * @id: The last event id seen so far, or %NULL.
 * @retry: The last `retry:` value in milliseconds, -1 when none.
 */
typedef struct
{
  char *event;
  char *data;
  char *id;
  int   retry;
} LctlSseEvent;

void lctl_sse_event_free (LctlSseEvent *event);

/* An incremental Server-Sent Events parser (the WHATWG event-stream
 * grammar): fed byte chunks split anywhere, with LF, CRLF or CR line
 * endings, comments, multi-line data and a leading BOM. */
typedef struct _LctlSseParser LctlSseParser;

LctlSseParser *lctl_sse_parser_new (void);
void           lctl_sse_parser_free (LctlSseParser *parser);

/**
 * lctl_sse_parser_feed:
 * @parser: A parser.
 * @buf: (array length=len): Bytes as they arrived.
 * @len: Length of @buf.
 * @events: (element-type LctlSseEvent): Receives each event completed by
 *   these bytes; create it with lctl_sse_event_array_new().
 */
void lctl_sse_parser_feed (LctlSseParser *parser,
                           const char    *buf,
                           gsize          len,
                           GPtrArray     *events);

/* At end of stream: dispatches an event that lacked its final blank line
 * (upstreams that end with `data: [DONE]\n` without one). */
void lctl_sse_parser_finish (LctlSseParser *parser,
                             GPtrArray     *events);

GPtrArray *lctl_sse_event_array_new (void);

/* Appends one event: `event: NAME\n` (when @event is not %NULL), one
 * `data: ` line per line of @data, and the blank line. */
void lctl_sse_append_event (GString    *out,
                            const char *event,
                            const char *data);

/* Appends a comment line (`: text\n\n`), a keep-alive invisible to clients. */
void lctl_sse_append_comment (GString    *out,
                              const char *text);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlSseParser, lctl_sse_parser_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlSseEvent, lctl_sse_event_free)

G_END_DECLS
