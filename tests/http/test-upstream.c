/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include "lctl-error.h"
#include "lctl-test-utils.h"
#include "lctl-upstream.h"

/* This test loads glib-networking's TLS module in-process, and
 * LeakSanitizer crashes walking the thread-local storage of dlopen()ed
 * modules ("Tracer caught signal 11" at a DTLS block). ASan still checks
 * every access; only the exit-time leak scan is off, for this program
 * (an ASAN_OPTIONS that sets detect_leaks overrides it). */
const char *__asan_default_options (void);

const char *
__asan_default_options (void)
{
  return "detect_leaks=0";
}

/* The upstream session on its own: TLS as every real upstream uses it,
 * proxies from the environment, timeouts. */

typedef struct
{
  unsigned status;
  GString *body;
  GError  *error;
  gboolean done;
} CallResult;

static void
headers_cb (LctlUpstreamCall   *call,
            unsigned            status,
            SoupMessageHeaders *headers,
            gpointer            user_data)
{
  CallResult *result = user_data;

  result->status = status;
}

static void
chunk_cb (LctlUpstreamCall *call,
          GBytes           *chunk,
          gpointer          user_data)
{
  CallResult *result = user_data;

  g_string_append_len (result->body, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
}

static void
done_cb (LctlUpstreamCall *call,
         const GError     *error,
         gpointer          user_data)
{
  CallResult *result = user_data;

  result->error = error != NULL ? g_error_copy (error) : NULL;
  result->done = TRUE;
}

static const LctlUpstreamCallbacks callbacks = { headers_cb, chunk_cb, done_cb };

static void
hello_handler (SoupServer        *server,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           user_data)
{
  if (g_str_equal (path, "/hang"))
    {
      soup_server_message_pause (msg);
      return;
    }
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, "{\"ok\":true}", 11);
}

static SoupServer *
tls_server_new (char **base)
{
  g_autofree char *cert_path = lctl_test_source_path ("fixtures", "tls", "server.pem", NULL);
  g_autofree char *key_path = lctl_test_source_path ("fixtures", "tls", "server-key.pem", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsCertificate) certificate = g_tls_certificate_new_from_files (cert_path, key_path, &error);
  g_autoptr (SoupServer) server = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  GSList *uris;

  g_assert_no_error (error);
  server = soup_server_new ("tls-certificate", certificate, NULL);
  soup_server_add_handler (server, NULL, hello_handler, NULL, NULL);
  soup_server_listen (server, address, SOUP_SERVER_LISTEN_HTTPS, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  *base = g_strdup_printf ("https://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return g_steal_pointer (&server);
}

static CallResult *
call (LctlUpstream               *upstream,
      const char                 *url,
      const LctlUpstreamTimeouts *timeouts)
{
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);
  CallResult *result = g_new0 (CallResult, 1);

  result->body = g_string_new (NULL);
  soup_message_set_request_body_from_bytes (msg, "application/json", g_bytes_new_static ("{}", 2));
  lctl_upstream_send (upstream, msg, timeouts, NULL, &callbacks, result);
  lctl_test_wait_for (&result->done, 10000);
  return result;
}

static void
call_result_free (CallResult *result)
{
  g_string_free (result->body, TRUE);
  g_clear_error (&result->error);
  g_free (result);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CallResult, call_result_free)

static LctlConfig *
config_with_ssl_verify (const char *value)
{
  g_autofree char *yaml = g_strdup_printf ("model_list:\n"
                                           "  - model_name: m\n"
                                           "    litellm_params:\n"
                                           "      model: openai/m\n"
                                           "%s%s%s",
                                           value != NULL ? "litellm_settings:\n  ssl_verify: " : "",
                                           value != NULL ? value : "", value != NULL ? "\n" : "");
  g_autoptr (GError) error = NULL;
  LctlConfig *config = lctl_config_load_from_data (yaml, -1, "tls.yaml", &error);

  g_assert_no_error (error);
  return config;
}

static void
test_https (void)
{
  g_autofree char *base = NULL;
  g_autoptr (SoupServer) server = tls_server_new (&base);
  g_autofree char *url = g_strconcat (base, "/v1/chat/completions", NULL);
  g_autofree char *ca = lctl_test_source_path ("fixtures", "tls", "ca.pem", NULL);
  g_autoptr (LctlUpstream) upstream = lctl_upstream_new ();

  g_assert_true (g_tls_backend_supports_tls (g_tls_backend_get_default ()));

  /* The system's CAs do not know our test CA. */
  {
    g_autoptr (LctlConfig) config = config_with_ssl_verify (NULL);
    g_autoptr (CallResult) result = NULL;

    lctl_upstream_configure (upstream, config);
    result = call (upstream, url, NULL);
    g_assert_nonnull (result->error);
    g_assert_cmpuint (result->status, ==, 0);
  }

  /* ssl_verify: a CA bundle. */
  {
    g_autoptr (LctlConfig) config = config_with_ssl_verify (ca);
    g_autoptr (CallResult) result = NULL;

    lctl_upstream_configure (upstream, config);
    result = call (upstream, url, NULL);
    g_assert_no_error (result->error);
    g_assert_cmpuint (result->status, ==, 200);
    g_assert_cmpstr (result->body->str, ==, "{\"ok\":true}");
  }

  /* A reload that drops ssl_verify verifies against the system's CAs
   * again (a new host: the pooled connection was verified already). */
  {
    g_autofree char *other_base = NULL;
    g_autoptr (SoupServer) other = tls_server_new (&other_base);
    g_autofree char *other_url = g_strconcat (other_base, "/v1/chat/completions", NULL);
    g_autoptr (LctlConfig) config = config_with_ssl_verify (NULL);
    g_autoptr (CallResult) result = NULL;

    lctl_upstream_configure (upstream, config);
    result = call (upstream, other_url, NULL);
    g_assert_nonnull (result->error);
    g_assert_cmpuint (result->status, ==, 0);
  }

  /* ssl_verify: false. */
  {
    g_autoptr (LctlUpstream) unverified = lctl_upstream_new ();
    g_autoptr (LctlConfig) config = config_with_ssl_verify ("false");
    g_autoptr (CallResult) result = NULL;

    lctl_upstream_configure (unverified, config);
    result = call (unverified, url, NULL);
    g_assert_no_error (result->error);
    g_assert_cmpuint (result->status, ==, 200);
  }
}

static void
test_loopback_bypasses_proxy (void)
{
  g_autofree char *base = NULL;
  g_autoptr (SoupServer) server = lctl_test_server_new (&base);
  g_autofree char *url = g_strconcat (base, "/v1/chat/completions", NULL);
  g_autoptr (LctlUpstream) upstream = NULL;
  g_autoptr (CallResult) result = NULL;

  soup_server_add_handler (server, NULL, hello_handler, NULL, NULL);
  /* A corporate proxy that does not exist: loopback must not use it. */
  g_setenv ("HTTP_PROXY", "http://127.0.0.1:9", TRUE);
  g_setenv ("HTTPS_PROXY", "http://127.0.0.1:9", TRUE);
  g_unsetenv ("NO_PROXY");
  upstream = lctl_upstream_new ();
  g_unsetenv ("HTTP_PROXY");
  g_unsetenv ("HTTPS_PROXY");

  result = call (upstream, url, NULL);
  g_assert_no_error (result->error);
  g_assert_cmpuint (result->status, ==, 200);
}

static void
test_first_byte_timeout (void)
{
  g_autofree char *base = NULL;
  g_autoptr (SoupServer) server = lctl_test_server_new (&base);
  g_autofree char *url = g_strconcat (base, "/hang", NULL);
  g_autoptr (LctlUpstream) upstream = lctl_upstream_new ();
  LctlUpstreamTimeouts timeouts = { .first_byte = 0.2, .total = 5 };
  gint64               start = g_get_monotonic_time ();
  g_autoptr (CallResult) result = NULL;

  soup_server_add_handler (server, NULL, hello_handler, NULL, NULL);
  result = call (upstream, url, &timeouts);
  g_assert_error (result->error, LCTL_ERROR, LCTL_ERROR_TIMEOUT);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  soup_server_disconnect (server);
}

/* More calls at once than one pooled session takes, then calls one after
 * another: every call is answered, and the burst leaves nothing stuck. */
static void
test_burst_then_sequential (void)
{
  g_autofree char *base = NULL;
  g_autoptr (SoupServer) server = lctl_test_server_new (&base);
  g_autofree char *url = g_strconcat (base, "/v1/chat/completions", NULL);
  g_autoptr (LctlUpstream) upstream = lctl_upstream_new ();
  /* Within the test server's listen backlog of 10. */
  CallResult results[8] = { 0 };
  gboolean   all_done = FALSE;

  soup_server_add_handler (server, NULL, hello_handler, NULL, NULL);
  for (unsigned i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);

      results[i].body = g_string_new (NULL);
      soup_message_set_request_body_from_bytes (msg, "application/json", g_bytes_new_static ("{}", 2));
      lctl_upstream_send (upstream, msg, NULL, NULL, &callbacks, &results[i]);
    }
  while (!all_done)
    {
      all_done = TRUE;
      for (unsigned i = 0; i < G_N_ELEMENTS (results); i++)
        all_done = all_done && results[i].done;
      if (!all_done)
        g_main_context_iteration (NULL, TRUE);
    }
  for (unsigned i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_assert_no_error (results[i].error);
      g_assert_cmpuint (results[i].status, ==, 200);
      g_assert_cmpstr (results[i].body->str, ==, "{\"ok\":true}");
      g_string_free (results[i].body, TRUE);
    }

  for (unsigned i = 0; i < 10; i++)
    {
      g_autoptr (CallResult) result = call (upstream, url, NULL);

      g_assert_no_error (result->error);
      g_assert_cmpuint (result->status, ==, 200);
    }
}

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);

  g_test_add_func ("/upstream/https", test_https);
  g_test_add_func ("/upstream/loopback-bypasses-proxy", test_loopback_bypasses_proxy);
  g_test_add_func ("/upstream/first-byte-timeout", test_first_byte_timeout);
  g_test_add_func ("/upstream/burst-then-sequential", test_burst_then_sequential);

  return g_test_run ();
}
