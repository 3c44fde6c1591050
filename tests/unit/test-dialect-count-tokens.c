/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include "lctl-count-tokens.h"
#include "test-dialect-common.h"

/* Real counts from the token-counting documentation's examples
 * (POST /v1/messages/count_tokens answers, as also quoted by
 * langchain-anthropic's get_num_tokens_from_messages docs). */
static const struct
{
  const char *fixture;
  gint64      real;
} documented[] = {
  { "count-tokens-basic.json", 14 },
  { "count-tokens-tools.json", 403 },
};

static gint64
estimate_fixture (const char *name)
{
  gsize            length = 0;
  g_autofree char *text = fixture_text (name, &length);
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlIrRequest) request = lctl_dialect_parse_request (LCTL_DIALECT_ANTHROPIC, text, length, &error);

  g_assert_no_error (error);
  return lctl_count_tokens_request (request);
}

static void
test_documented_examples (void)
{
  for (unsigned i = 0; i < G_N_ELEMENTS (documented); i++)
    {
      gint64 estimate = estimate_fixture (documented[i].fixture);
      double relative = (double) (estimate - documented[i].real) / documented[i].real;

      g_test_message ("%s: real %" G_GINT64_FORMAT ", estimated %" G_GINT64_FORMAT " (%+.1f %%)",
                      documented[i].fixture, documented[i].real, estimate, relative * 100);
      g_assert_cmpfloat (ABS (relative), <=, 0.15);
    }
}

static void
test_previous_thinking_ignored (void)
{
  /* The API ignores thinking of earlier assistant turns; so do we. */
  gsize            length = 0;
  g_autofree char *text = fixture_text ("count-tokens-thinking.json", &length);
  g_autoptr (LctlIrRequest) request = lctl_dialect_parse_request (LCTL_DIALECT_ANTHROPIC, text, length, NULL);
  gint64         with_thinking = lctl_count_tokens_request (request);
  LctlIrMessage *assistant = request->messages->pdata[1];
  gint64         without;

  g_ptr_array_remove_index (assistant->parts, 0);
  without = lctl_count_tokens_request (request);
  g_test_message ("thinking example: estimated %" G_GINT64_FORMAT, with_thinking);
  g_assert_cmpint (with_thinking, ==, without);
}

static void
test_text (void)
{
  const char *prose = "The quick brown fox jumps over the lazy dog. ";
  g_autoptr (GString) long_prose = g_string_new (NULL);
  gint64 estimate;
  double ratio;

  g_assert_cmpint (lctl_count_tokens_text (NULL), ==, 0);
  g_assert_cmpint (lctl_count_tokens_text (""), ==, 0);
  g_assert_cmpint (lctl_count_tokens_text ("Hello"), ==, 1);
  g_assert_cmpint (lctl_count_tokens_text ("Hello, Claude"), ==, 3);
  /* CJK: about one token per character. */
  g_assert_cmpint (lctl_count_tokens_text ("你好世界"), ==, 4);
  /* Invalid UTF-8 is counted, not a crash. */
  g_assert_cmpint (lctl_count_tokens_text ("\xff\xfe"), ==, 2);

  for (int i = 0; i < 100; i++)
    g_string_append (long_prose, prose);
  estimate = lctl_count_tokens_text (long_prose->str);
  /* English prose: ~4 characters per token. */
  ratio = (double) long_prose->len / estimate;
  g_assert_cmpfloat (ratio, >=, 3.4);
  g_assert_cmpfloat (ratio, <=, 4.6);
}

static void
test_counts_every_part (void)
{
  /* Each kind of content adds to the estimate. */
  const char *base = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  const char *with_tool_use = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
                              "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"Bash\",\"input\":{\"command\":\"ls -la /usr/share/doc\"}}]},"
                              "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":[{\"type\":\"text\",\"text\":\"total 48 drwxr-xr-x 2 root root 4096 README\"}]}]}]}";
  const char *with_image = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"},"
                           "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"AAAA\"}}]}]}";
  g_autoptr (LctlIrRequest) a = lctl_dialect_parse_request (LCTL_DIALECT_ANTHROPIC, base, -1, NULL);
  g_autoptr (LctlIrRequest) b = lctl_dialect_parse_request (LCTL_DIALECT_ANTHROPIC, with_tool_use, -1, NULL);
  g_autoptr (LctlIrRequest) c = lctl_dialect_parse_request (LCTL_DIALECT_ANTHROPIC, with_image, -1, NULL);
  gint64 ca = lctl_count_tokens_request (a);
  gint64 cb = lctl_count_tokens_request (b);
  gint64 cc = lctl_count_tokens_request (c);

  g_assert_cmpint (cb, >, ca + 20);
  g_assert_cmpint (cc, >=, ca + 1600);
}

static void
test_claude_code_prompt (void)
{
  /* The Claude Code request: plausible, and system + tools dominate. */
  gint64 estimate = estimate_fixture ("anthropic-request-claude-code.json");

  g_assert_cmpint (estimate, >, 346);
  g_assert_cmpint (estimate, <, 1000);
}

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);

  g_test_add_func ("/count-tokens/documented-examples", test_documented_examples);
  g_test_add_func ("/count-tokens/previous-thinking", test_previous_thinking_ignored);
  g_test_add_func ("/count-tokens/text", test_text);
  g_test_add_func ("/count-tokens/every-part", test_counts_every_part);
  g_test_add_func ("/count-tokens/claude-code", test_claude_code_prompt);

  return g_test_run ();
}
