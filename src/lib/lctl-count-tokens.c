/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include "lctl-json.h"
#include "lctl-count-tokens.h"

/*
 * Method. No Claude tokenizer is public, so this is a shape-based estimate
 * tuned to BPE behaviour on English prose, code and JSON:
 *
 * - a run of ASCII letters is one token per 6 characters (rounded up):
 *   common words are single tokens, long identifiers split;
 * - a run of digits is one token per 3 digits (BPE vocabularies split
 *   numbers in groups of up to three);
 * - a run of punctuation is one token per 2 characters (`{"`, `":`, `);`
 *   are usually merged);
 * - a single space before a word is free (it belongs to the word's token);
 *   longer runs of blanks (indentation) cost one token per 4; each line
 *   break costs one;
 * - CJK, kana and hangul are one token per character; other non-ASCII
 *   letters count as two ASCII letters; other non-ASCII symbols (emoji)
 *   one token each.
 *
 * On top of the text:
 * - 3 tokens per message and 3 per request for the chat framing;
 * - tool definitions are counted as their name, description and compact
 *   JSON schema, plus the system prompt Anthropic adds when tools are
 *   present (346 tokens with tool_choice auto/none, 313 with any/tool, as
 *   documented for Claude 4 models on the tool-use pricing page);
 * - images cost a fixed 1,600 tokens: the documented cost of an image at
 *   the size the API scales large images down to ((w×h)/750 for 1.15 MP);
 * - thinking blocks count only in the last assistant turn: the API ignores
 *   thinking from earlier turns (token-counting docs).
 *
 * Measured error, on the token-counting documentation's examples
 * (tests/unit/test-dialect-count-tokens.c, fixtures
 * tests/fixtures/dialects/count-tokens-*.json): system "You are a
 * scientist" + "Hello, Claude": 14 real, 14 estimated (0 %); the
 * get_weather tool + one question: 403 real, 427 estimated (+6 %). English
 * prose estimates at 3.4-4.6 bytes per token, the usual range. The test
 * bounds the documented cases to ±15 %. It is an estimate: code, JSON and
 * non-English text will be further off (expect ±25 %), which is enough for
 * Claude Code's auto-compaction threshold, not for billing.
 */

static gboolean
is_cjk (gunichar c)
{
  return (c >= 0x3040 && c <= 0x30ff)     /* kana */
         || (c >= 0x3400 && c <= 0x4dbf)  /* CJK ext A */
         || (c >= 0x4e00 && c <= 0x9fff)  /* CJK */
         || (c >= 0xac00 && c <= 0xd7af)  /* hangul */
         || (c >= 0xf900 && c <= 0xfaff)  /* CJK compat */
         || (c >= 0xff00 && c <= 0xffef); /* full width */
}

typedef enum
{
  RUN_NONE,
  RUN_LETTERS,
  RUN_DIGITS,
  RUN_PUNCT,
  RUN_BLANKS,
} RunKind;

static gint64
run_cost (RunKind kind,
          gint64  len)
{
  switch (kind)
    {
    case RUN_LETTERS:
      return (len + 5) / 6;
    case RUN_DIGITS:
      return (len + 2) / 3;
    case RUN_PUNCT:
      return (len + 1) / 2;
    case RUN_BLANKS:
      return len <= 1 ? 0 : (len + 3) / 4;
    case RUN_NONE:
    default:
      return 0;
    }
}

gint64
lctl_count_tokens_text (const char *text)
{
  gint64      tokens = 0;
  RunKind     kind = RUN_NONE;
  gint64      len = 0;
  const char *p;

  if (text == NULL)
    return 0;

  for (p = text; *p != '\0';)
    {
      gunichar c = g_utf8_get_char_validated (p, -1);
      RunKind  next;
      gint64   weight = 1;

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          /* Invalid UTF-8: a byte is a token. */
          tokens += run_cost (kind, len) + 1;
          kind = RUN_NONE;
          len = 0;
          p++;
          continue;
        }
      p = g_utf8_next_char (p);

      if (c == '\n' || c == '\r')
        {
          tokens += run_cost (kind, len) + 1;
          kind = RUN_NONE;
          len = 0;
          continue;
        }
      if (c < 0x80)
        {
          if (g_ascii_isalpha (c) || c == '_')
            next = RUN_LETTERS;
          else if (g_ascii_isdigit (c))
            next = RUN_DIGITS;
          else if (c == ' ' || c == '\t')
            next = RUN_BLANKS;
          else
            next = RUN_PUNCT;
        }
      else if (is_cjk (c))
        {
          tokens += run_cost (kind, len) + 1;
          kind = RUN_NONE;
          len = 0;
          continue;
        }
      else if (g_unichar_isalpha (c))
        {
          next = RUN_LETTERS;
          weight = 2;
        }
      else if (g_unichar_isspace (c))
        next = RUN_BLANKS;
      else
        {
          tokens += run_cost (kind, len) + 1;
          kind = RUN_NONE;
          len = 0;
          continue;
        }

      if (next != kind)
        {
          tokens += run_cost (kind, len);
          kind = next;
          len = 0;
        }
      len += weight;
    }
  tokens += run_cost (kind, len);
  return tokens;
}

#define TOKENS_PER_MESSAGE        3
#define TOKENS_PER_REQUEST        3
#define TOKENS_PER_IMAGE          1600
#define TOKENS_TOOL_PROMPT_AUTO   346
#define TOKENS_TOOL_PROMPT_FORCED 313

static gint64
count_json (JsonNode *node)
{
  g_autofree char *text = NULL;

  if (node == NULL)
    return 0;
  text = lctl_json_to_string (node);
  return lctl_count_tokens_text (text);
}

static gint64 count_part (const LctlIrPart *part,
                          gboolean          count_thinking);

static gint64
count_parts (GPtrArray *parts,
             gboolean   count_thinking)
{
  gint64 tokens = 0;

  if (parts == NULL)
    return 0;
  for (unsigned i = 0; i < parts->len; i++)
    tokens += count_part (parts->pdata[i], count_thinking);
  return tokens;
}

static gint64
count_part (const LctlIrPart *part,
            gboolean          count_thinking)
{
  switch (part->kind)
    {
    case LCTL_IR_PART_TEXT:
      return lctl_count_tokens_text (part->text);
    case LCTL_IR_PART_IMAGE:
      return TOKENS_PER_IMAGE;
    case LCTL_IR_PART_TOOL_CALL:
      return lctl_count_tokens_text (part->name) + lctl_count_tokens_text (part->arguments) + 3;
    case LCTL_IR_PART_TOOL_RESULT:
      return 3 + (part->content != NULL ? count_parts (part->content, count_thinking) : lctl_count_tokens_text (part->text));
    case LCTL_IR_PART_THINKING:
      return count_thinking ? lctl_count_tokens_text (part->text) : 0;
    case LCTL_IR_PART_REDACTED_THINKING:
    case LCTL_IR_PART_ENCRYPTED_REASONING:
      /* Opaque; the base64 length over-counts, a quarter is closer. */
      return count_thinking && part->text ? (gint64) strlen (part->text) / 16 : 0;
    case LCTL_IR_PART_RAW:
      return count_json (part->raw);
    default:
      return 0;
    }
}

gint64
lctl_count_tokens_request (const LctlIrRequest *request)
{
  gint64 tokens = TOKENS_PER_REQUEST;
  int    last_assistant = -1;

  g_return_val_if_fail (request != NULL, 0);

  for (unsigned i = 0; i < request->messages->len; i++)
    {
      const LctlIrMessage *message = request->messages->pdata[i];

      if (message->role == LCTL_IR_ROLE_ASSISTANT)
        last_assistant = i;
    }
  /* Thinking of the current assistant turn counts only while it is still
   * being continued (the assistant message is last). */
  if (last_assistant != (int) request->messages->len - 1)
    last_assistant = -1;

  tokens += count_parts (request->system, FALSE);

  for (unsigned i = 0; i < request->messages->len; i++)
    {
      const LctlIrMessage *message = request->messages->pdata[i];

      tokens += TOKENS_PER_MESSAGE + count_parts (message->parts, (int) i == last_assistant);
    }

  if (request->tools->len > 0)
    {
      gboolean forced = request->tool_choice.mode == LCTL_IR_TOOL_CHOICE_ANY || request->tool_choice.mode == LCTL_IR_TOOL_CHOICE_TOOL;

      tokens += forced ? TOKENS_TOOL_PROMPT_FORCED : TOKENS_TOOL_PROMPT_AUTO;
      for (unsigned i = 0; i < request->tools->len; i++)
        {
          const LctlIrTool *tool = request->tools->pdata[i];

          if (tool->raw != NULL && tool->name == NULL)
            {
              tokens += count_json (tool->raw);
              continue;
            }
          tokens += lctl_count_tokens_text (tool->name) + lctl_count_tokens_text (tool->description) + count_json (tool->parameters);
        }
    }

  return tokens;
}
