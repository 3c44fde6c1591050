/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#define G_LOG_DOMAIN "lctl-accounts"

#include "lctl-account-manager.h"
#include "lctl-error.h"
#include "lctl-file-token-store.h"
#include "lctl-gemini-setup.h"
#include "lctl-oauth-provider.h"
#include "lctl-oauth-util.h"

/* The account manager owns the stored credentials of the four OAuth
 * providers and hands out bearer tokens (LctlTokenSource). Refreshes are
 * single-flight per account: the first caller that finds a stale token
 * starts one, everyone else queues a GTask on it and gets the same answer
 * (as goaoauth2provider does). A rotated refresh token is written to the
 * store before the in-memory record lets the old one go. */

#define MAX_REFRESH_ATTEMPTS 3
/* After a refresh, do not refresh again on a timer sooner than this even
 * if the provider hands out tokens shorter-lived than our skew. */
#define MIN_REFRESH_INTERVAL 30
#define RETRY_LATER_SECONDS  60

typedef struct
{
  LctlAccountManager      *manager; /* not a ref: the manager owns the account */
  const LctlOAuthProvider *provider;
  JsonObject              *record;
  LctlTokenStore          *store;
  LctlToken               *token;
  gboolean                 needs_login;
  char                    *needs_login_reason;
  GPtrArray               *waiters;
  gboolean                 refreshing;
  unsigned                 attempt;
  unsigned                 generation;
  unsigned                 refresh_generation;
  gint64                   last_refresh;
  guint                    timer_id;
  guint                    retry_id;
  char                    *gemini_client_id;
  char                    *gemini_client_secret;
  gboolean                 gemini_setup_tried;
} Account;

typedef enum
{
  LOAD_NONE,
  LOAD_RUNNING,
  LOAD_DONE,
} LoadState;

typedef void (*LoadedFunc) (LctlAccountManager *self,
                            GTask              *task);

typedef struct
{
  GTask     *task;
  LoadedFunc func;
} LoadWaiter;

struct _LctlAccountManager
{
  GObject parent_instance;

  SoupSession             *session;
  GCancellable            *cancellable;
  LctlTokenStorePreference preference;
  LctlTokenStore          *store;
  LctlTokenStore          *file_store;
  GHashTable              *accounts; /* provider id → Account */
  LoadState                load_state;
  GArray                  *load_waiters;
  guint                    load_index;
  gboolean                 proactive;
  unsigned                 retry_delay_ms;
};

static void lctl_account_manager_token_source_init (LctlTokenSourceInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (LctlAccountManager, lctl_account_manager, G_TYPE_OBJECT, G_IMPLEMENT_INTERFACE (LCTL_TYPE_TOKEN_SOURCE, lctl_account_manager_token_source_init))

enum
{
  SIGNAL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void account_start_refresh (Account *account);
static void account_schedule (Account *account);

static gint64
now_seconds (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

static void
account_free (Account *account)
{
  g_clear_handle_id (&account->timer_id, g_source_remove);
  g_clear_handle_id (&account->retry_id, g_source_remove);
  g_clear_pointer (&account->record, json_object_unref);
  g_clear_object (&account->store);
  g_clear_pointer (&account->token, lctl_token_unref);
  g_clear_pointer (&account->waiters, g_ptr_array_unref);
  g_free (account->needs_login_reason);
  g_free (account->gemini_client_id);
  g_free (account->gemini_client_secret);
  g_free (account);
}

static Account *
lookup_account (LctlAccountManager *self,
                const char         *name,
                GError            **error)
{
  const LctlOAuthProvider *provider = lctl_oauth_provider_lookup (name);

  if (provider == NULL)
    {
      g_set_error (error, LCTL_ERROR, LCTL_ERROR_NOT_FOUND,
                   "Unknown OAuth provider “%s” (chatgpt, gemini, qwen or kimi)", name);
      return NULL;
    }
  return g_hash_table_lookup (self->accounts, provider->id);
}

static GError *not_found_error (Account *account);

/* The account of @name with a stored credential, or an error saying there
 * is none. */
static Account *
lookup_stored_account (LctlAccountManager *self,
                       const char         *name,
                       GError            **error)
{
  Account *account = lookup_account (self, name, error);

  if (account != NULL && account->record == NULL)
    {
      g_propagate_error (error, not_found_error (account));
      return NULL;
    }
  return account;
}

static void
emit_changed (LctlAccountManager *self)
{
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static void
account_set_record (Account        *account,
                    JsonObject     *record,
                    LctlTokenStore *store)
{
  g_clear_pointer (&account->record, json_object_unref);
  g_clear_pointer (&account->token, lctl_token_unref);
  if (store != NULL)
    g_set_object (&account->store, store);
  if (record == NULL)
    {
      g_clear_object (&account->store);
      return;
    }
  account->record = json_object_ref (record);
  if (lctl_credential_get_string (record, "access_token") != NULL)
    {
      LctlToken *token = lctl_token_new (account->provider->id,
                                         lctl_credential_get_string (record, "access_token"));

      token->expires_at = lctl_credential_get_expires_at (record);
      token->account_id = g_strdup (lctl_credential_get_string (record, "account_id"));
      token->resource_url = g_strdup (lctl_credential_get_string (record, "resource_url"));
      token->project_id = g_strdup (lctl_credential_get_string (record, "project_id"));
      token->email = g_strdup (lctl_credential_get_string (record, "email"));
      account->token = token;
    }
}

static void
account_set_needs_login (Account    *account,
                         gboolean    needs_login,
                         const char *reason)
{
  account->needs_login = needs_login;
  g_free (account->needs_login_reason);
  account->needs_login_reason = g_strdup (reason);
}

/* Whether the cached token can be handed out without a refresh. */
static gboolean
account_token_usable (Account *account)
{
  gint64 now = now_seconds ();
  gint64 expires_at;

  if (account->token == NULL)
    return FALSE;
  expires_at = account->token->expires_at;
  if (expires_at == 0 || now < expires_at - account->provider->refresh_skew)
    return TRUE;
  /* A provider whose tokens live shorter than our skew: a just-refreshed
   * token is fine until it really expires. */
  return now < expires_at && now - account->last_refresh < MIN_REFRESH_INTERVAL;
}

static GError *
needs_login_error (Account *account)
{
  return g_error_new (LCTL_ERROR, LCTL_ERROR_NEEDS_LOGIN,
                      "%s needs a new login (%s). Run 'litellmctl auth %s'.",
                      account->provider->label,
                      account->needs_login_reason != NULL ? account->needs_login_reason : "no usable credential",
                      account->provider->cli_name);
}

static GError *
not_found_error (Account *account)
{
  return g_error_new (LCTL_ERROR, LCTL_ERROR_NOT_FOUND,
                      "No %s account. Run 'litellmctl auth %s'.",
                      account->provider->label, account->provider->cli_name);
}

/* Loading: pick the backend, then read every provider's record from it,
 * falling back to the file directory (credentials restored by an export
 * script on a host without litellmctl land there). */

static void load_next (LctlAccountManager *self);

static void
load_done (LctlAccountManager *self)
{
  g_autoptr (GArray) waiters = g_steal_pointer (&self->load_waiters);
  GHashTableIter iter;
  gpointer       value;

  self->load_waiters = g_array_new (FALSE, FALSE, sizeof (LoadWaiter));
  self->load_state = LOAD_DONE;
  g_hash_table_iter_init (&iter, self->accounts);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    account_schedule (value);
  emit_changed (self);
  for (guint i = 0; i < waiters->len; i++)
    {
      LoadWaiter *w = &g_array_index (waiters, LoadWaiter, i);

      w->func (self, w->task);
      g_object_unref (w->task);
    }
}

static void
load_file_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr (LctlAccountManager) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) record = lctl_token_store_load_finish (LCTL_TOKEN_STORE (source), result, &error);
  gsize                    n;
  const LctlOAuthProvider *providers = lctl_oauth_provider_get_all (&n);

  if (error != NULL)
    g_message ("Could not read the %s credential file: %s", providers[self->load_index].label, error->message);
  if (record != NULL)
    account_set_record (g_hash_table_lookup (self->accounts, providers[self->load_index].id),
                        record, self->file_store);
  self->load_index++;
  load_next (self);
}

static void
load_primary_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr (LctlAccountManager) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) record = lctl_token_store_load_finish (LCTL_TOKEN_STORE (source), result, &error);
  gsize                    n;
  const LctlOAuthProvider *providers = lctl_oauth_provider_get_all (&n);
  const LctlOAuthProvider *provider = &providers[self->load_index];

  if (error != NULL)
    g_message ("Could not read the %s credential from the %s store: %s", provider->label,
               lctl_token_store_get_backend_name (self->store), error->message);
  if (record != NULL)
    {
      account_set_record (g_hash_table_lookup (self->accounts, provider->id), record, self->store);
      self->load_index++;
      load_next (self);
      return;
    }
  if (self->file_store != self->store)
    {
      lctl_token_store_load_async (self->file_store, provider->id, self->cancellable,
                                   load_file_cb, g_object_ref (self));
      return;
    }
  self->load_index++;
  load_next (self);
}

static void
load_next (LctlAccountManager *self)
{
  gsize                    n;
  const LctlOAuthProvider *providers = lctl_oauth_provider_get_all (&n);

  if (self->load_index >= n)
    {
      load_done (self);
      return;
    }
  lctl_token_store_load_async (self->store, providers[self->load_index].id, self->cancellable,
                               load_primary_cb, g_object_ref (self));
}

static void
use_store (LctlAccountManager *self,
           LctlTokenStore     *store)
{
  g_set_object (&self->store, store);
  g_clear_object (&self->file_store);
  if (LCTL_IS_FILE_TOKEN_STORE (store))
    self->file_store = g_object_ref (store);
  else
    self->file_store = LCTL_TOKEN_STORE (lctl_file_token_store_new (NULL));
}

static void
store_ready_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (LctlAccountManager) self = user_data;
  g_autoptr (LctlTokenStore) store = lctl_token_store_new_default_finish (result, NULL);

  if (store == NULL)
    store = LCTL_TOKEN_STORE (lctl_file_token_store_new (NULL));
  use_store (self, store);
  self->load_index = 0;
  load_next (self);
}

static void
with_loaded (LctlAccountManager *self,
             GTask              *task,
             LoadedFunc          func)
{
  LoadWaiter w = { g_object_ref (task), func };

  if (self->load_state == LOAD_DONE)
    {
      func (self, task);
      g_object_unref (task);
      return;
    }
  g_array_append_val (self->load_waiters, w);
  if (self->load_state == LOAD_RUNNING)
    return;
  self->load_state = LOAD_RUNNING;
  if (self->store != NULL)
    {
      self->load_index = 0;
      load_next (self);
      return;
    }
  lctl_token_store_new_default_async (self->preference, self->cancellable, store_ready_cb,
                                      g_object_ref (self));
}

/* Refresh. */

static void
account_complete_waiters (Account *account,
                          GError  *error)
{
  g_autoptr (GPtrArray) waiters = g_steal_pointer (&account->waiters);

  account->waiters = g_ptr_array_new_with_free_func (g_object_unref);
  account->refreshing = FALSE;
  for (guint i = 0; i < waiters->len; i++)
    {
      GTask *task = waiters->pdata[i];

      if (error != NULL)
        g_task_return_error (task, g_error_copy (error));
      else if (account->token != NULL)
        g_task_return_pointer (task, lctl_token_ref (account->token), (GDestroyNotify) lctl_token_unref);
      else
        g_task_return_error (task, not_found_error (account));
    }
}

static void
account_join_refresh (Account *account,
                      GTask   *task)
{
  if (task != NULL)
    g_ptr_array_add (account->waiters, g_object_ref (task));
  if (!account->refreshing)
    account_start_refresh (account);
}

static gboolean
timer_cb (gpointer user_data)
{
  Account *account = user_data;

  account->timer_id = 0;
  if (!account->refreshing && account->record != NULL && !account->needs_login)
    {
      g_debug ("Proactive refresh of %s", account->provider->id);
      account_start_refresh (account);
    }
  return G_SOURCE_REMOVE;
}

static void
account_schedule_in (Account *account,
                     gint64   delay)
{
  g_clear_handle_id (&account->timer_id, g_source_remove);
  if (delay < 0)
    delay = 0;
  if (delay > G_MAXUINT / 1000)
    delay = G_MAXUINT / 1000;
  account->timer_id = g_timeout_add_seconds ((guint) delay, timer_cb, account);
}

static void
account_schedule (Account *account)
{
  gint64 expires_at, delay;

  g_clear_handle_id (&account->timer_id, g_source_remove);
  if (!account->manager->proactive || account->record == NULL || account->needs_login || lctl_credential_get_string (account->record, "refresh_token") == NULL)
    return;
  expires_at = lctl_credential_get_expires_at (account->record);
  if (expires_at == 0)
    return;
  delay = expires_at - account->provider->refresh_skew - now_seconds ();
  delay = MAX (delay, account->last_refresh + MIN_REFRESH_INTERVAL - now_seconds ());
  account_schedule_in (account, delay);
}

typedef struct
{
  LctlAccountManager *self;
  Account            *account;
  JsonObject         *record;
} RefreshCall;

static void
refresh_call_free (RefreshCall *call)
{
  g_object_unref (call->self);
  g_clear_pointer (&call->record, json_object_unref);
  g_free (call);
}

static RefreshCall *
refresh_call_new (Account *account)
{
  RefreshCall *call = g_new0 (RefreshCall, 1);

  call->self = g_object_ref (account->manager);
  call->account = account;
  return call;
}

static void
refresh_fail (Account *account,
              GError  *error)
{
  g_info ("Refresh of %s failed: %s", account->provider->id, error->message);
  account_complete_waiters (account, error);
  emit_changed (account->manager);
}

static void
refresh_saved_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  RefreshCall *call = user_data;
  Account     *account = call->account;
  g_autoptr (GError) error = NULL;

  if (!lctl_token_store_save_finish (LCTL_TOKEN_STORE (source), result, &error))
    g_warning ("Could not store the refreshed %s credential (%s store): %s; it is kept in memory",
               account->provider->label, lctl_token_store_get_backend_name (LCTL_TOKEN_STORE (source)),
               error->message);
  if (account->generation == account->refresh_generation)
    {
      account_set_record (account, call->record, NULL);
      account->last_refresh = now_seconds ();
      g_debug ("Refreshed %s", account->provider->id);
    }
  account_complete_waiters (account, NULL);
  account_schedule (account);
  emit_changed (account->manager);
  refresh_call_free (call);
}

static void send_refresh (Account *account);

/* Store first: the provider may have rotated the refresh token, and the old
 * one is only let go once the new one is safe. */
static void
refresh_store (RefreshCall *call)
{
  Account         *account = call->account;
  g_autofree char *name = lctl_credential_get_account (call->record);

  lctl_token_store_save_async (account->store, account->provider->id, name, call->record, NULL,
                               refresh_saved_cb, call);
}

static void
refresh_setup_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  RefreshCall *call = user_data;
  g_autoptr (GError) error = NULL;

  if (!lctl_gemini_setup_finish (result, &error))
    g_debug ("Gemini setup after refresh: %s", error->message);
  refresh_store (call);
}

static gboolean
retry_cb (gpointer user_data)
{
  Account *account = user_data;

  account->retry_id = 0;
  send_refresh (account);
  return G_SOURCE_REMOVE;
}

static void
refresh_transient (Account    *account,
                   const char *what)
{
  account->attempt++;
  if (account->attempt < MAX_REFRESH_ATTEMPTS)
    {
      unsigned delay = account->manager->retry_delay_ms << (account->attempt - 1);

      g_info ("Refresh of %s failed (%s); retrying in %u ms", account->provider->id, what, delay);
      account->retry_id = g_timeout_add (delay, retry_cb, account);
      return;
    }
  {
    g_autoptr (GError) error = g_error_new (LCTL_ERROR, LCTL_ERROR_UPSTREAM,
                                            "Could not refresh the %s token: %s",
                                            account->provider->label, what);

    refresh_fail (account, error);
    if (account->manager->proactive && account->record != NULL)
      account_schedule_in (account, RETRY_LATER_SECONDS);
  }
}

static void
refresh_reply_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  RefreshCall *call = user_data;
  Account     *account = call->account;
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlOAuthReply) reply = lctl_oauth_http_finish (result, &error);
  g_autofree char *what = NULL;

  if (reply == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        refresh_fail (account, error);
      else
        refresh_transient (account, error->message);
      refresh_call_free (call);
      return;
    }
  what = lctl_oauth_reply_describe (reply);
  if (reply->status >= 200 && reply->status < 300)
    {
      JsonObject *answer = lctl_oauth_reply_get_object (reply);

      if (account->generation != account->refresh_generation || account->record == NULL)
        {
          /* A login, import or logout replaced the account meanwhile. */
          account_complete_waiters (account, NULL);
          refresh_call_free (call);
          return;
        }
      call->record = lctl_credential_copy (account->record);
      if (answer == NULL || !lctl_credential_apply_token_reply (account->provider->id, call->record, answer))
        {
          g_autoptr (GError) bad = g_error_new (LCTL_ERROR, LCTL_ERROR_UPSTREAM,
                                                "The %s token endpoint answered without an access token",
                                                account->provider->label);

          refresh_fail (account, bad);
          refresh_call_free (call);
          return;
        }
      if (account->gemini_client_id != NULL && lctl_credential_get_string (call->record, "oauth_client_id") == NULL)
        {
          json_object_set_string_member (call->record, "oauth_client_id", account->gemini_client_id);
          json_object_set_string_member (call->record, "oauth_client_secret", account->gemini_client_secret);
        }
      /* A Gemini login that found no project or e-mail gets another try
       * with the fresh token, once per daemon run (as the seed's refresh). */
      if (g_str_equal (account->provider->id, "gemini_cli") && !account->gemini_setup_tried && lctl_gemini_setup_needed (call->record))
        {
          account->gemini_setup_tried = TRUE;
          lctl_gemini_setup_async (account->manager->session, call->record, NULL, NULL,
                                   account->manager->cancellable, refresh_setup_cb, call);
          return;
        }
      refresh_store (call);
      return;
    }
  if (reply->status == 429 || reply->status == 408 || reply->status >= 500)
    {
      refresh_transient (account, what);
      refresh_call_free (call);
      return;
    }
  /* 400 invalid_grant, 401, 403: the provider no longer accepts this
   * refresh token. Only a new login helps. */
  account_set_needs_login (account, TRUE, what);
  g_clear_handle_id (&account->timer_id, g_source_remove);
  {
    g_autoptr (GError) rejected = needs_login_error (account);

    g_message ("%s refresh rejected (%s); the account needs a new login",
               account->provider->label, what);
    refresh_fail (account, rejected);
  }
  refresh_call_free (call);
}

static void
send_refresh (Account *account)
{
  LctlAccountManager *self = account->manager;
  const char         *id = account->provider->id;
  const char         *refresh_token = lctl_credential_get_string (account->record, "refresh_token");
  g_autofree char    *url = lctl_oauth_token_url (id);
  g_autofree char    *body = NULL;
  g_auto (GStrv) headers = NULL;
  const char *content_type = "application/x-www-form-urlencoded";

  if (g_str_equal (id, "chatgpt"))
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      g_autoptr (JsonGenerator) generator = json_generator_new ();
      g_autoptr (JsonNode) root = NULL;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "client_id");
      json_builder_add_string_value (builder, account->provider->client_id);
      json_builder_set_member_name (builder, "grant_type");
      json_builder_add_string_value (builder, "refresh_token");
      json_builder_set_member_name (builder, "refresh_token");
      json_builder_add_string_value (builder, refresh_token);
      json_builder_set_member_name (builder, "scope");
      json_builder_add_string_value (builder, "openid profile email");
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      json_generator_set_root (generator, root);
      body = json_generator_to_data (generator, NULL);
      content_type = "application/json";
    }
  else if (g_str_equal (id, "gemini_cli"))
    body = lctl_oauth_form_encode ("grant_type", "refresh_token",
                                   "refresh_token", refresh_token,
                                   "client_id", account->gemini_client_id,
                                   "client_secret", account->gemini_client_secret,
                                   NULL);
  else
    {
      body = lctl_oauth_form_encode ("grant_type", "refresh_token",
                                     "refresh_token", refresh_token,
                                     "client_id", account->provider->client_id,
                                     NULL);
      if (g_str_equal (id, "kimi_code"))
        headers = lctl_oauth_kimi_headers ();
      else
        {
          const char *qwen[] = { "User-Agent", "qwen-code/1.0.0", NULL };

          headers = g_strdupv ((char **) qwen);
        }
    }
  lctl_oauth_http_async (self->session, "POST", url, (const char *const *) headers, content_type,
                         body, self->cancellable, refresh_reply_cb, refresh_call_new (account));
  explicit_bzero (body, strlen (body));
}

static void
gemini_client_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  RefreshCall *call = user_data;
  Account     *account = call->account;
  g_autoptr (GError) error = NULL;
  char *id = NULL, *secret = NULL;

  if (!lctl_oauth_gemini_client_finish (result, &id, &secret, &error))
    refresh_fail (account, error);
  else
    {
      g_free (account->gemini_client_id);
      g_free (account->gemini_client_secret);
      account->gemini_client_id = id;
      account->gemini_client_secret = secret;
      send_refresh (account);
    }
  refresh_call_free (call);
}

static void
account_start_refresh (Account *account)
{
  account->refreshing = TRUE;
  account->attempt = 0;
  account->refresh_generation = account->generation;
  g_clear_handle_id (&account->timer_id, g_source_remove);
  if (account->record == NULL)
    {
      g_autoptr (GError) error = not_found_error (account);

      account_complete_waiters (account, error);
      return;
    }
  if (lctl_credential_get_string (account->record, "refresh_token") == NULL)
    {
      g_autoptr (GError) error = NULL;

      account_set_needs_login (account, TRUE, "no refresh token is stored");
      error = needs_login_error (account);
      refresh_fail (account, error);
      return;
    }
  if (g_str_equal (account->provider->id, "gemini_cli"))
    {
      const char *id = lctl_credential_get_string (account->record, "oauth_client_id");
      const char *secret = lctl_credential_get_string (account->record, "oauth_client_secret");

      if (id != NULL && secret != NULL)
        {
          g_free (account->gemini_client_id);
          g_free (account->gemini_client_secret);
          account->gemini_client_id = g_strdup (id);
          account->gemini_client_secret = g_strdup (secret);
        }
      if (account->gemini_client_id == NULL)
        {
          lctl_oauth_gemini_client_async (account->manager->cancellable, gemini_client_cb,
                                          refresh_call_new (account));
          return;
        }
    }
  send_refresh (account);
}

/* LctlTokenSource */

typedef struct
{
  char      *provider;
  LctlToken *rejected;
} GetTokenData;

static void
get_token_data_free (GetTokenData *data)
{
  g_free (data->provider);
  g_clear_pointer (&data->rejected, lctl_token_unref);
  g_free (data);
}

static void
get_token_loaded (LctlAccountManager *self,
                  GTask              *task)
{
  GetTokenData *data = g_task_get_task_data (task);
  GError       *error = NULL;
  Account      *account = lookup_stored_account (self, data->provider, &error);

  if (account == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (account->needs_login)
    {
      g_task_return_error (task, needs_login_error (account));
      return;
    }
  if (account_token_usable (account) && (data->rejected == NULL || g_strcmp0 (data->rejected->access_token, account->token->access_token) != 0))
    {
      g_task_return_pointer (task, lctl_token_ref (account->token), (GDestroyNotify) lctl_token_unref);
      return;
    }
  account_join_refresh (account, task);
}

static void
lctl_account_manager_get_token_async (LctlTokenSource    *source,
                                      const char         *provider,
                                      LctlToken          *rejected,
                                      GCancellable       *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer            user_data)
{
  LctlAccountManager *self = LCTL_ACCOUNT_MANAGER (source);
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  GetTokenData *data = g_new0 (GetTokenData, 1);

  g_task_set_source_tag (task, lctl_account_manager_get_token_async);
  data->provider = g_strdup (provider);
  data->rejected = rejected != NULL ? lctl_token_ref (rejected) : NULL;
  g_task_set_task_data (task, data, (GDestroyNotify) get_token_data_free);
  with_loaded (self, task, get_token_loaded);
}

static LctlToken *
lctl_account_manager_get_token_finish (LctlTokenSource *source,
                                       GAsyncResult    *result,
                                       GError         **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
lctl_account_manager_token_source_init (LctlTokenSourceInterface *iface)
{
  iface->get_token_async = lctl_account_manager_get_token_async;
  iface->get_token_finish = lctl_account_manager_get_token_finish;
}

/* Public operations. */

static void
load_loaded (LctlAccountManager *self,
             GTask              *task)
{
  g_task_return_boolean (task, TRUE);
}

/**
 * lctl_account_manager_load_async:
 *
 * Chooses the store and reads every credential, once. Other calls do this
 * on their own; the D-Bus service calls it before ListAccounts().
 */
void
lctl_account_manager_load_async (LctlAccountManager *self,
                                 GCancellable       *cancellable,
                                 GAsyncReadyCallback callback,
                                 gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, lctl_account_manager_load_async);
  with_loaded (self, task, load_loaded);
}

gboolean
lctl_account_manager_load_finish (LctlAccountManager *self,
                                  GAsyncResult       *result,
                                  GError            **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
refresh_loaded (LctlAccountManager *self,
                GTask              *task)
{
  GError  *error = NULL;
  Account *account = lookup_stored_account (self, g_task_get_task_data (task), &error);

  if (account == NULL)
    g_task_return_error (task, error);
  else
    {
      /* An explicit refresh is also how a user retries after fixing
       * things, so it clears a previous rejection's mark only on success. */
      if (account->needs_login && !account->refreshing)
        account_set_needs_login (account, FALSE, NULL);
      account_join_refresh (account, task);
    }
}

/**
 * lctl_account_manager_refresh_async:
 *
 * Refreshes @provider's token now, joining a refresh already in flight.
 */
void
lctl_account_manager_refresh_async (LctlAccountManager *self,
                                    const char         *provider,
                                    GCancellable       *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, lctl_account_manager_refresh_async);
  g_task_set_task_data (task, g_strdup (provider), g_free);
  with_loaded (self, task, refresh_loaded);
}

/**
 * lctl_account_manager_refresh_finish:
 *
 * Returns: (transfer full): The new token.
 */
LctlToken *
lctl_account_manager_refresh_finish (LctlAccountManager *self,
                                     GAsyncResult       *result,
                                     GError            **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct
{
  char           *provider;
  JsonObject     *record;
  JsonObject     *old_record;
  LctlTokenStore *old_store;
} AddData;

static void
add_data_free (AddData *data)
{
  g_free (data->provider);
  g_clear_pointer (&data->record, json_object_unref);
  g_clear_pointer (&data->old_record, json_object_unref);
  g_clear_object (&data->old_store);
  g_free (data);
}

static void
delete_old_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr (GError) error = NULL;

  if (!lctl_token_store_delete_finish (LCTL_TOKEN_STORE (source), result, &error))
    g_warning ("Could not delete a replaced credential: %s", error->message);
}

static void
add_saved_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  LctlAccountManager *self = g_task_get_source_object (task);
  AddData            *data = g_task_get_task_data (task);
  Account            *account = lookup_account (self, data->provider, NULL);
  g_autoptr (GError) error = NULL;

  if (!lctl_token_store_save_finish (LCTL_TOKEN_STORE (source), result, &error))
    {
      g_prefix_error (&error, "Could not store the %s credential: ", account->provider->label);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (data->old_record != NULL)
    {
      g_autofree char *old_name = lctl_credential_get_account (data->old_record);
      g_autofree char *new_name = lctl_credential_get_account (data->record);

      if (data->old_store != self->store || !g_str_equal (old_name, new_name))
        lctl_token_store_delete_async (data->old_store, account->provider->id, old_name,
                                       NULL, delete_old_cb, NULL);
    }
  account->generation++;
  account->gemini_setup_tried = FALSE;
  account_set_record (account, data->record, self->store);
  account_set_needs_login (account, FALSE, NULL);
  account->last_refresh = now_seconds ();
  account_schedule (account);
  emit_changed (self);
  g_task_return_boolean (task, TRUE);
}

static void
add_loaded (LctlAccountManager *self,
            GTask              *task)
{
  AddData         *data = g_task_get_task_data (task);
  GError          *error = NULL;
  Account         *account = lookup_account (self, data->provider, &error);
  g_autofree char *name = NULL;

  if (account == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_free (data->provider);
  data->provider = g_strdup (account->provider->id);
  if (account->record != NULL)
    {
      data->old_record = json_object_ref (account->record);
      data->old_store = g_object_ref (account->store);
    }
  name = lctl_credential_get_account (data->record);
  lctl_token_store_save_async (self->store, account->provider->id, name, data->record,
                               g_task_get_cancellable (task), add_saved_cb, g_object_ref (task));
}

/**
 * lctl_account_manager_add_async:
 * @provider: A provider key or alias.
 * @record: The credential record (a login's result or an import).
 *
 * Stores @record in the current backend, replacing the provider's previous
 * credential (wherever it was), and clears a "needs login" mark.
 */
void
lctl_account_manager_add_async (LctlAccountManager *self,
                                const char         *provider,
                                JsonObject         *record,
                                GCancellable       *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  AddData *data = g_new0 (AddData, 1);

  g_task_set_source_tag (task, lctl_account_manager_add_async);
  data->provider = g_strdup (provider);
  data->record = lctl_credential_copy (record);
  lctl_credential_normalize (data->record);
  g_task_set_task_data (task, data, (GDestroyNotify) add_data_free);
  with_loaded (self, task, add_loaded);
}

gboolean
lctl_account_manager_add_finish (LctlAccountManager *self,
                                 GAsyncResult       *result,
                                 GError            **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

typedef struct
{
  char   *provider;
  int     pending;
  GError *error;
} LogoutData;

static void
logout_data_free (LogoutData *data)
{
  g_free (data->provider);
  g_clear_error (&data->error);
  g_free (data);
}

static void
logout_deleted_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  LogoutData *data = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  if (!lctl_token_store_delete_finish (LCTL_TOKEN_STORE (source), result, &error) && data->error == NULL)
    data->error = g_steal_pointer (&error);
  if (--data->pending > 0)
    return;
  if (data->error != NULL)
    g_task_return_error (task, g_steal_pointer (&data->error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
logout_loaded (LctlAccountManager *self,
               GTask              *task)
{
  LogoutData *data = g_task_get_task_data (task);
  GError     *error = NULL;
  Account    *account = lookup_stored_account (self, data->provider, &error);

  if (account == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  account->generation++;
  account_set_record (account, NULL, NULL);
  account_set_needs_login (account, FALSE, NULL);
  g_clear_handle_id (&account->timer_id, g_source_remove);
  emit_changed (self);
  /* Delete from both stores: a copy may linger in the files. */
  data->pending = self->file_store != self->store ? 2 : 1;
  lctl_token_store_delete_async (self->store, account->provider->id, NULL, NULL,
                                 logout_deleted_cb, g_object_ref (task));
  if (self->file_store != self->store)
    lctl_token_store_delete_async (self->file_store, account->provider->id, NULL, NULL,
                                   logout_deleted_cb, g_object_ref (task));
}

/**
 * lctl_account_manager_logout_async:
 *
 * Deletes @provider's credential from every store.
 */
void
lctl_account_manager_logout_async (LctlAccountManager *self,
                                   const char         *provider,
                                   GCancellable       *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  LogoutData *data = g_new0 (LogoutData, 1);

  g_task_set_source_tag (task, lctl_account_manager_logout_async);
  data->provider = g_strdup (provider);
  g_task_set_task_data (task, data, (GDestroyNotify) logout_data_free);
  with_loaded (self, task, logout_loaded);
}

gboolean
lctl_account_manager_logout_finish (LctlAccountManager *self,
                                    GAsyncResult       *result,
                                    GError            **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * lctl_account_manager_list_accounts:
 *
 * Call after loading. The dictionaries are those of the D-Bus
 * `ListAccounts()`; no token is in them.
 *
 * Returns: (transfer floating): `aa{sv}`, one entry per stored credential.
 */
GVariant *
lctl_account_manager_list_accounts (LctlAccountManager *self)
{
  GVariantBuilder          builder;
  gsize                    n;
  const LctlOAuthProvider *providers = lctl_oauth_provider_get_all (&n);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (gsize i = 0; i < n; i++)
    {
      Account        *account = g_hash_table_lookup (self->accounts, providers[i].id);
      const char     *email, *account_id, *project;
      GVariantBuilder dict;

      if (account->record == NULL)
        continue;
      email = lctl_credential_get_string (account->record, "email");
      account_id = lctl_credential_get_string (account->record, "account_id");
      project = lctl_credential_get_string (account->record, "project_id");
      g_variant_builder_init (&dict, G_VARIANT_TYPE ("a{sv}"));
      g_variant_builder_add (&dict, "{sv}", "provider", g_variant_new_string (providers[i].id));
      g_variant_builder_add (&dict, "{sv}", "label", g_variant_new_string (providers[i].label));
      g_variant_builder_add (&dict, "{sv}", "account",
                             g_variant_new_string (email != NULL        ? email
                                                   : account_id != NULL ? account_id
                                                   : project != NULL    ? project
                                                                        : ""));
      g_variant_builder_add (&dict, "{sv}", "email", g_variant_new_string (email != NULL ? email : ""));
      g_variant_builder_add (&dict, "{sv}", "account-id",
                             g_variant_new_string (account_id != NULL ? account_id : ""));
      g_variant_builder_add (&dict, "{sv}", "project", g_variant_new_string (project != NULL ? project : ""));
      g_variant_builder_add (&dict, "{sv}", "expires-at",
                             g_variant_new_int64 (lctl_credential_get_expires_at (account->record)));
      g_variant_builder_add (&dict, "{sv}", "backend",
                             g_variant_new_string (lctl_token_store_get_backend_name (account->store)));
      g_variant_builder_add (&dict, "{sv}", "needs-login", g_variant_new_boolean (account->needs_login));
      if (account->needs_login_reason != NULL)
        g_variant_builder_add (&dict, "{sv}", "needs-login-reason",
                               g_variant_new_string (account->needs_login_reason));
      g_variant_builder_add_value (&builder, g_variant_builder_end (&dict));
    }
  return g_variant_builder_end (&builder);
}

/**
 * lctl_account_manager_get_needs_login:
 *
 * Returns: (transfer full): Provider keys whose refresh was rejected.
 */
char **
lctl_account_manager_get_needs_login (LctlAccountManager *self)
{
  GStrvBuilder            *builder = g_strv_builder_new ();
  gsize                    n;
  const LctlOAuthProvider *providers = lctl_oauth_provider_get_all (&n);
  char                   **out;

  for (gsize i = 0; i < n; i++)
    {
      Account *account = g_hash_table_lookup (self->accounts, providers[i].id);

      if (account->needs_login && account->record != NULL)
        g_strv_builder_add (builder, providers[i].id);
    }
  out = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return out;
}

/**
 * lctl_account_manager_get_record:
 *
 * Call after loading.
 *
 * Returns: (transfer none) (nullable): The stored record of @provider. It
 *   holds secrets.
 */
JsonObject *
lctl_account_manager_get_record (LctlAccountManager *self,
                                 const char         *provider)
{
  Account *account = lookup_account (self, provider, NULL);

  return account != NULL ? account->record : NULL;
}

/**
 * lctl_account_manager_get_backend:
 *
 * Returns: (transfer none) (nullable): "keyring" or "file" for a stored
 *   credential, %NULL when there is none.
 */
const char *
lctl_account_manager_get_backend (LctlAccountManager *self,
                                  const char         *provider)
{
  Account *account = lookup_account (self, provider, NULL);

  if (account == NULL || account->store == NULL)
    return NULL;
  return lctl_token_store_get_backend_name (account->store);
}

/**
 * lctl_account_manager_set_store_preference:
 *
 * What the configuration asks for; takes effect on the next load (call
 * before first use). `LITELLMCTL_TOKEN_STORE=file` still wins.
 */
void
lctl_account_manager_set_store_preference (LctlAccountManager      *self,
                                           LctlTokenStorePreference preference)
{
  g_return_if_fail (LCTL_IS_ACCOUNT_MANAGER (self));

  self->preference = preference;
}

/**
 * lctl_account_manager_set_store:
 *
 * Uses @store as the backend (tests; a config that names one). Call before
 * first use.
 */
void
lctl_account_manager_set_store (LctlAccountManager *self,
                                LctlTokenStore     *store)
{
  g_return_if_fail (LCTL_IS_ACCOUNT_MANAGER (self));
  g_return_if_fail (self->load_state == LOAD_NONE);

  use_store (self, store);
}

/**
 * lctl_account_manager_set_proactive_refresh:
 *
 * Whether tokens are refreshed on a timer before they expire (on by
 * default).
 */
void
lctl_account_manager_set_proactive_refresh (LctlAccountManager *self,
                                            gboolean            enabled)
{
  GHashTableIter iter;
  gpointer       value;

  g_return_if_fail (LCTL_IS_ACCOUNT_MANAGER (self));

  self->proactive = enabled;
  g_hash_table_iter_init (&iter, self->accounts);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Account *account = value;

      if (enabled && self->load_state == LOAD_DONE)
        account_schedule (account);
      else if (!enabled)
        g_clear_handle_id (&account->timer_id, g_source_remove);
    }
}

/**
 * lctl_account_manager_set_retry_delay:
 *
 * The first back-off delay after a transport error during a refresh; it
 * doubles per attempt (1 s by default).
 */
void
lctl_account_manager_set_retry_delay (LctlAccountManager *self,
                                      unsigned            milliseconds)
{
  g_return_if_fail (LCTL_IS_ACCOUNT_MANAGER (self));

  self->retry_delay_ms = milliseconds;
}

/**
 * lctl_account_manager_get_session:
 *
 * Returns: (transfer none): The session used for OAuth endpoints.
 */
SoupSession *
lctl_account_manager_get_session (LctlAccountManager *self)
{
  g_return_val_if_fail (LCTL_IS_ACCOUNT_MANAGER (self), NULL);

  return self->session;
}

static void
lctl_account_manager_dispose (GObject *object)
{
  LctlAccountManager *self = LCTL_ACCOUNT_MANAGER (object);
  GHashTableIter      iter;
  gpointer            value;

  g_cancellable_cancel (self->cancellable);
  g_hash_table_iter_init (&iter, self->accounts);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Account *account = value;

      g_clear_handle_id (&account->timer_id, g_source_remove);
      g_clear_handle_id (&account->retry_id, g_source_remove);
    }
  G_OBJECT_CLASS (lctl_account_manager_parent_class)->dispose (object);
}

static void
lctl_account_manager_finalize (GObject *object)
{
  LctlAccountManager *self = LCTL_ACCOUNT_MANAGER (object);

  g_hash_table_unref (self->accounts);
  g_array_unref (self->load_waiters);
  g_clear_object (&self->store);
  g_clear_object (&self->file_store);
  g_clear_object (&self->session);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (lctl_account_manager_parent_class)->finalize (object);
}

static void
lctl_account_manager_class_init (LctlAccountManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lctl_account_manager_dispose;
  object_class->finalize = lctl_account_manager_finalize;

  /**
   * LctlAccountManager::changed:
   *
   * A credential was added, refreshed, removed, or needs a login now.
   */
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
lctl_account_manager_init (LctlAccountManager *self)
{
  gsize                    n;
  const LctlOAuthProvider *providers = lctl_oauth_provider_get_all (&n);

  self->session = soup_session_new_with_options ("timeout", 30, "user-agent", PACKAGE_NAME "/" PACKAGE_VERSION, NULL);
  self->cancellable = g_cancellable_new ();
  self->accounts = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) account_free);
  self->load_waiters = g_array_new (FALSE, FALSE, sizeof (LoadWaiter));
  self->proactive = TRUE;
  self->retry_delay_ms = 1000;
  for (gsize i = 0; i < n; i++)
    {
      Account *account = g_new0 (Account, 1);

      account->manager = self;
      account->provider = &providers[i];
      account->waiters = g_ptr_array_new_with_free_func (g_object_unref);
      g_hash_table_insert (self->accounts, (gpointer) providers[i].id, account);
    }
}

/**
 * lctl_account_manager_new:
 *
 * Returns: (transfer full): A manager; it loads the store on first use.
 */
LctlAccountManager *
lctl_account_manager_new (void)
{
  return g_object_new (LCTL_TYPE_ACCOUNT_MANAGER, NULL);
}
