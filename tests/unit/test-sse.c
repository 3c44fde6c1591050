/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include "lctl-sse.h"
#include "lctl-test-utils.h"

static GPtrArray *
parse_chunks (const char *text,
              gsize       length,
              gsize       split)
{
  g_autoptr (LctlSseParser) parser = lctl_sse_parser_new ();
  GPtrArray *events = lctl_sse_event_array_new ();

  lctl_sse_parser_feed (parser, text, split, events);
  lctl_sse_parser_feed (parser, text + split, length - split, events);
  lctl_sse_parser_finish (parser, events);
  return events;
}

static GPtrArray *
parse_bytewise (const char *text,
                gsize       length)
{
  g_autoptr (LctlSseParser) parser = lctl_sse_parser_new ();
  GPtrArray *events = lctl_sse_event_array_new ();

  for (gsize i = 0; i < length; i++)
    lctl_sse_parser_feed (parser, text + i, 1, events);
  lctl_sse_parser_finish (parser, events);
  return events;
}

static void
assert_same_events (GPtrArray *a,
                    GPtrArray *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  for (unsigned i = 0; i < a->len; i++)
    {
      LctlSseEvent *x = a->pdata[i], *y = b->pdata[i];

      g_assert_cmpstr (x->event, ==, y->event);
      g_assert_cmpstr (x->data, ==, y->data);
      g_assert_cmpstr (x->id, ==, y->id);
      g_assert_cmpint (x->retry, ==, y->retry);
    }
}

static void
test_sse_basic (void)
{
  const char *text = "event: message_start\ndata: {\"a\":1}\n\n"
                     ": this is a comment\n\n"
                     "data: first line\ndata: second line\nid: 7\nretry: 1500\n\n"
                     "event: ping\n\n"
                     "data\n\n"
                     "data:no-space\n\n";
  g_autoptr (GPtrArray) events = parse_chunks (text, strlen (text), 0);
  LctlSseEvent *e;

  /* "event: ping" alone has no data: not dispatched. */
  g_assert_cmpuint (events->len, ==, 4);
  e = events->pdata[0];
  g_assert_cmpstr (e->event, ==, "message_start");
  g_assert_cmpstr (e->data, ==, "{\"a\":1}");
  e = events->pdata[1];
  g_assert_null (e->event);
  g_assert_cmpstr (e->data, ==, "first line\nsecond line");
  g_assert_cmpstr (e->id, ==, "7");
  g_assert_cmpint (e->retry, ==, 1500);
  e = events->pdata[2];
  g_assert_cmpstr (e->data, ==, "");
  /* The name of an event without data does not leak into the next. */
  g_assert_null (e->event);
  e = events->pdata[3];
  g_assert_cmpstr (e->data, ==, "no-space");
  g_assert_cmpstr (e->id, ==, "7");
}

static void
test_sse_line_endings (void)
{
  const char *lf = "event: a\ndata: x\n\ndata: y\ndata: z\n\n";
  const char *crlf = "event: a\r\ndata: x\r\n\r\ndata: y\r\ndata: z\r\n\r\n";
  const char *cr = "event: a\rdata: x\r\rdata: y\rdata: z\r\r";
  g_autoptr (GPtrArray) a = parse_chunks (lf, strlen (lf), 0);
  g_autoptr (GPtrArray) b = parse_chunks (crlf, strlen (crlf), 0);
  g_autoptr (GPtrArray) c = parse_chunks (cr, strlen (cr), 0);

  g_assert_cmpuint (a->len, ==, 2);
  g_assert_cmpstr (((LctlSseEvent *) a->pdata[1])->data, ==, "y\nz");
  assert_same_events (a, b);
  assert_same_events (a, c);
}

static void
test_sse_split_everywhere (void)
{
  /* A realistic stream with all the hard cases: CRLF, BOM, UTF-8,
   * comments, multi-line data. */
  const char *text = "\xEF\xBB\xBF"
                     ": keep-alive\r\n\r\n"
                     "event: content_block_delta\r\n"
                     "data: {\"text\":\"héllo \xE2\x82\xAC\"}\r\n\r\n"
                     "data: line1\rdata: line2\r\r"
                     "id: 42\n"
                     "data: [DONE]\n\n";
  gsize       length = strlen (text);
  g_autoptr (GPtrArray) reference = parse_chunks (text, length, 0);

  g_assert_cmpuint (reference->len, ==, 3);
  g_assert_cmpstr (((LctlSseEvent *) reference->pdata[0])->event, ==, "content_block_delta");
  g_assert_cmpstr (((LctlSseEvent *) reference->pdata[0])->data, ==, "{\"text\":\"héllo €\"}");
  g_assert_cmpstr (((LctlSseEvent *) reference->pdata[1])->data, ==, "line1\nline2");
  g_assert_cmpstr (((LctlSseEvent *) reference->pdata[2])->data, ==, "[DONE]");
  g_assert_cmpstr (((LctlSseEvent *) reference->pdata[2])->id, ==, "42");

  for (gsize split = 0; split <= length; split++)
    {
      g_autoptr (GPtrArray) events = parse_chunks (text, length, split);

      assert_same_events (reference, events);
    }
  {
    g_autoptr (GPtrArray) events = parse_bytewise (text, length);

    assert_same_events (reference, events);
  }
}

static void
test_sse_unterminated (void)
{
  /* Some upstreams end with "data: [DONE]\n" and no blank line. */
  const char *text = "data: {\"x\":1}\n\ndata: [DONE]";
  g_autoptr (LctlSseParser) parser = lctl_sse_parser_new ();
  g_autoptr (GPtrArray) events = lctl_sse_event_array_new ();

  lctl_sse_parser_feed (parser, text, strlen (text), events);
  g_assert_cmpuint (events->len, ==, 1);
  lctl_sse_parser_finish (parser, events);
  g_assert_cmpuint (events->len, ==, 2);
  g_assert_cmpstr (((LctlSseEvent *) events->pdata[1])->data, ==, "[DONE]");
}

static void
test_sse_writer (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (LctlSseParser) parser = lctl_sse_parser_new ();
  g_autoptr (GPtrArray) events = lctl_sse_event_array_new ();

  lctl_sse_append_event (out, "message_start", "{\"type\":\"message_start\"}");
  lctl_sse_append_event (out, NULL, "two\nlines\r\nand three");
  lctl_sse_append_comment (out, "ping");
  g_assert_cmpstr (out->str, ==,
                   "event: message_start\ndata: {\"type\":\"message_start\"}\n\n"
                   "data: two\ndata: lines\ndata: and three\n\n"
                   ": ping\n\n");

  lctl_sse_parser_feed (parser, out->str, out->len, events);
  g_assert_cmpuint (events->len, ==, 2);
  g_assert_cmpstr (((LctlSseEvent *) events->pdata[1])->data, ==, "two\nlines\nand three");
}

static void
test_sse_garbage (void)
{
  /* Random bytes never crash the parser and never produce an event
   * without data. */
  GRand *rand = g_rand_new_with_seed (1234);

  for (int round = 0; round < 200; round++)
    {
      g_autoptr (LctlSseParser) parser = lctl_sse_parser_new ();
      g_autoptr (GPtrArray) events = lctl_sse_event_array_new ();
      char  buf[512];
      gsize len = g_rand_int_range (rand, 0, sizeof buf);

      for (gsize i = 0; i < len; i++)
        {
          static const char alphabet[] = "data:event:id\r\n :\x00\xff{}";

          buf[i] = alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)];
        }
      lctl_sse_parser_feed (parser, buf, len, events);
      lctl_sse_parser_finish (parser, events);
      for (unsigned i = 0; i < events->len; i++)
        g_assert_nonnull (((LctlSseEvent *) events->pdata[i])->data);
    }
  g_rand_free (rand);
}

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);

  g_test_add_func ("/sse/basic", test_sse_basic);
  g_test_add_func ("/sse/line-endings", test_sse_line_endings);
  g_test_add_func ("/sse/split-everywhere", test_sse_split_everywhere);
  g_test_add_func ("/sse/unterminated", test_sse_unterminated);
  g_test_add_func ("/sse/writer", test_sse_writer);
  g_test_add_func ("/sse/garbage", test_sse_garbage);

  return g_test_run ();
}
