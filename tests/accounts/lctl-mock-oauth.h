/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* An in-process mock of the four providers' OAuth endpoints (and Google's
 * userinfo / resource manager / Code Assist setup calls), on 127.0.0.1
 * port 0, following the wire formats of PROTOCOLS.md §1. */

typedef enum
{
  MOCK_REFRESH_OK,     /* rotate: new access and refresh token */
  MOCK_REFRESH_REJECT, /* 400 invalid_grant */
  MOCK_REFRESH_FAIL,   /* 503 `fail_times` times, then OK */
} MockRefreshMode;

typedef struct
{
  SoupServer *server;
  char       *base;

  /* Counters by request path. */
  GHashTable *hits;

  /* Refresh behaviour. */
  MockRefreshMode refresh_mode;
  int             fail_times;
  unsigned        refresh_delay_ms;
  int             refresh_count;
  int             token_serial;
  char           *valid_refresh_token;
  char           *last_refresh_content_type;
  char           *last_refresh_grant_client_secret;
  int             expires_in;

  /* PKCE: what the authorize request carried. */
  GHashTable *authorize_query;
  char       *issued_code;
  gboolean    google_no_refresh_token;

  /* Device code: scripted poll answers, consumed in order ("pending",
   * "slow_down", "expired", "denied", "ok"); "ok" when empty. */
  GQueue             *poll_script;
  GArray             *poll_times; /* gint64 monotonic µs */
  char               *device_code_verifier_challenge;
  SoupMessageHeaders *last_device_headers;
  SoupMessageHeaders *last_poll_headers;
  GHashTable         *last_device_form;

  /* Gemini. */
  gboolean load_code_assist_has_project;
  char    *load_code_assist_body;
  int      onboard_count;
} LctlMockOAuth;

LctlMockOAuth *lctl_mock_oauth_new (void);
void           lctl_mock_oauth_free (LctlMockOAuth *mock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LctlMockOAuth, lctl_mock_oauth_free)

void  lctl_mock_oauth_setenv (LctlMockOAuth *mock);
int   lctl_mock_oauth_hits (LctlMockOAuth *mock,
                            const char    *path);
void  lctl_mock_oauth_script_polls (LctlMockOAuth *mock,
                                    const char    *first,
                                    ...) G_GNUC_NULL_TERMINATED;
char *lctl_mock_oauth_make_jwt (const char *account_id,
                                const char *email,
                                gint64      exp);

/* A free TCP port on localhost for callback servers. */

/* Plays the browser: GETs @url following redirects; returns the final
 * status and body. */
unsigned lctl_test_browser_get (const char *url,
                                char      **body);

JsonObject *lctl_test_json_object (const char *json);

G_END_DECLS
