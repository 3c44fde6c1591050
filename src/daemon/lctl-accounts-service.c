/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#define G_LOG_DOMAIN "lctl-dbus"

#include "lctl-accounts-service.h"
#include "lctl-credential-transfer.h"
#include "lctl-error.h"
#include "lctl-login-flow.h"
#include "lctl-oauth-provider.h"
#include "lctl-oauth-util.h"

/* io.github.litellmctl.Accounts on the daemon's connection. Long methods
 * keep their invocation and complete it when the manager answers. Logins
 * run as LctlLoginFlow objects keyed by flow id; their prompts, progress
 * and outcome become the LoginPrompt / LoginProgress / LoginFinished
 * signals. */

struct _LctlAccountsService
{
  LctlDBusAccountsSkeleton parent_instance;

  LctlAccountManager *manager;
  GHashTable         *flows; /* flow id → LctlLoginFlow */
  GCancellable       *cancellable;
};

static void lctl_accounts_service_iface_init (LctlDBusAccountsIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (LctlAccountsService, lctl_accounts_service, LCTL_DBUS_TYPE_ACCOUNTS_SKELETON, G_IMPLEMENT_INTERFACE (LCTL_DBUS_TYPE_ACCOUNTS, lctl_accounts_service_iface_init))

static void
update_needs_login (LctlAccountsService *self)
{
  g_auto (GStrv) needs_login = lctl_account_manager_get_needs_login (self->manager);

  lctl_dbus_accounts_set_needs_login (LCTL_DBUS_ACCOUNTS (self), (const char *const *) needs_login);
}

static void
manager_changed_cb (LctlAccountManager  *manager,
                    LctlAccountsService *self)
{
  update_needs_login (self);
}

typedef struct
{
  LctlAccountsService   *self;
  GDBusMethodInvocation *invocation;
  GStrv                  providers;
  GHashTable            *records;
  GPtrArray             *imported;
  guint                  index;
} Call;

static Call *
call_new (LctlAccountsService   *self,
          GDBusMethodInvocation *invocation)
{
  Call *call = g_new0 (Call, 1);

  call->self = g_object_ref (self);
  call->invocation = g_object_ref (invocation);
  return call;
}

static void
call_free (Call *call)
{
  g_object_unref (call->self);
  g_object_unref (call->invocation);
  g_strfreev (call->providers);
  g_clear_pointer (&call->records, g_hash_table_unref);
  g_clear_pointer (&call->imported, g_ptr_array_unref);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

static void
return_error (GDBusMethodInvocation *invocation,
              const GError          *error)
{
  if (error->domain == LCTL_ERROR)
    g_dbus_method_invocation_return_gerror (invocation, error);
  else
    g_dbus_method_invocation_return_error_literal (invocation, LCTL_ERROR, LCTL_ERROR_FAILED, error->message);
}

/* ListAccounts */

static void
list_loaded_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr (Call) call = user_data;
  g_autoptr (GError) error = NULL;

  if (!lctl_account_manager_load_finish (LCTL_ACCOUNT_MANAGER (source), result, &error))
    {
      return_error (call->invocation, error);
      return;
    }
  lctl_dbus_accounts_complete_list_accounts (LCTL_DBUS_ACCOUNTS (call->self), call->invocation,
                                             lctl_account_manager_list_accounts (call->self->manager));
}

static gboolean
handle_list_accounts (LctlDBusAccounts      *object,
                      GDBusMethodInvocation *invocation)
{
  LctlAccountsService *self = LCTL_ACCOUNTS_SERVICE (object);

  lctl_account_manager_load_async (self->manager, self->cancellable, list_loaded_cb, call_new (self, invocation));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Logins */

static void
flow_prompt_cb (LctlLoginFlow       *flow,
                GVariant            *prompt,
                LctlAccountsService *self)
{
  lctl_dbus_accounts_emit_login_prompt (LCTL_DBUS_ACCOUNTS (self), lctl_login_flow_get_id (flow), prompt);
}

static void
flow_progress_cb (LctlLoginFlow       *flow,
                  const char          *message,
                  LctlAccountsService *self)
{
  lctl_dbus_accounts_emit_login_progress (LCTL_DBUS_ACCOUNTS (self), lctl_login_flow_get_id (flow), message);
}

typedef struct
{
  LctlAccountsService *self;
  LctlLoginFlow       *flow;
  guint                watch_id;
} FlowRun;

static void
flow_run_free (FlowRun *run)
{
  if (run->watch_id != 0)
    g_bus_unwatch_name (run->watch_id);
  g_signal_handlers_disconnect_by_data (run->flow, run->self);
  g_hash_table_remove (run->self->flows, lctl_login_flow_get_id (run->flow));
  g_object_unref (run->flow);
  g_object_unref (run->self);
  g_free (run);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FlowRun, flow_run_free)

static void
login_finished (FlowRun      *run,
                const GError *error,
                const char   *account)
{
  const char *id = lctl_login_flow_get_id (run->flow);

  if (error != NULL)
    {
      g_info ("Login %s (%s) failed: %s", id, lctl_login_flow_get_provider (run->flow), error->message);
      lctl_dbus_accounts_emit_login_finished (LCTL_DBUS_ACCOUNTS (run->self), id, FALSE, error->message);
    }
  else
    {
      g_info ("Login %s (%s) succeeded", id, lctl_login_flow_get_provider (run->flow));
      lctl_dbus_accounts_emit_login_finished (LCTL_DBUS_ACCOUNTS (run->self), id, TRUE, account);
    }
}

static void
login_stored_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr (FlowRun) run = user_data;
  g_autoptr (GError) error = NULL;
  JsonObject      *record;
  g_autofree char *account = NULL;

  if (!lctl_account_manager_add_finish (LCTL_ACCOUNT_MANAGER (source), result, &error))
    {
      login_finished (run, error, NULL);
      return;
    }
  record = lctl_account_manager_get_record (run->self->manager, lctl_login_flow_get_provider (run->flow));
  account = lctl_credential_get_account (record);
  login_finished (run, NULL, account);
}

static void
login_run_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr (FlowRun) run = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) record = lctl_login_flow_run_finish (run->flow, result, &error);

  if (record == NULL)
    {
      login_finished (run, error, NULL);
      return;
    }
  lctl_dbus_accounts_emit_login_progress (LCTL_DBUS_ACCOUNTS (run->self), lctl_login_flow_get_id (run->flow),
                                          "Storing the credential...");
  {
    FlowRun *owned = g_steal_pointer (&run);

    lctl_account_manager_add_async (owned->self->manager, lctl_login_flow_get_provider (owned->flow), record,
                                    owned->self->cancellable, login_stored_cb, owned);
  }
}

static gboolean
start_flow_idle (gpointer user_data)
{
  FlowRun *run = user_data;

  lctl_login_flow_run_async (run->flow, run->self->cancellable, login_run_cb, run);
  return G_SOURCE_REMOVE;
}

/* The CLI that started a login went away (Ctrl-C, killed): free the
 * callback port now rather than after 5 minutes. */
static void
caller_vanished_cb (GDBusConnection *connection,
                    const char      *name,
                    gpointer         user_data)
{
  LctlLoginFlow *flow = user_data;

  g_debug ("Login %s: its caller %s left", lctl_login_flow_get_id (flow), name);
  lctl_login_flow_cancel (flow);
}

static gboolean
handle_begin_login (LctlDBusAccounts      *object,
                    GDBusMethodInvocation *invocation,
                    const char            *provider,
                    GVariant              *options)
{
  LctlAccountsService *self = LCTL_ACCOUNTS_SERVICE (object);
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlLoginFlow) flow = NULL;
  gboolean    headless = lctl_oauth_is_headless ();
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  g_autoptr (GPtrArray) superseded = NULL;
  GHashTableIter iter;
  gpointer       value;
  FlowRun       *run;

  g_variant_lookup (options, "headless", "b", &headless);
  flow = lctl_login_flow_new (provider, lctl_account_manager_get_session (self->manager), headless, &error);
  if (flow == NULL)
    {
      return_error (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  /* A new login for a provider supersedes an unfinished one (and frees
   * its callback port). Cancelling may finish it at once, which removes it
   * from the table: collect first. */
  superseded = g_ptr_array_new_with_free_func (g_object_unref);
  g_hash_table_iter_init (&iter, self->flows);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_str_equal (lctl_login_flow_get_provider (value), lctl_login_flow_get_provider (flow)))
      g_ptr_array_add (superseded, g_object_ref (value));
  for (guint i = 0; i < superseded->len; i++)
    lctl_login_flow_cancel (superseded->pdata[i]);
  g_signal_connect (flow, "prompt", G_CALLBACK (flow_prompt_cb), self);
  g_signal_connect (flow, "progress", G_CALLBACK (flow_progress_cb), self);
  g_hash_table_insert (self->flows, g_strdup (lctl_login_flow_get_id (flow)), g_object_ref (flow));

  run = g_new0 (FlowRun, 1);
  run->self = g_object_ref (self);
  run->flow = g_object_ref (flow);
  if (sender != NULL)
    run->watch_id = g_bus_watch_name_on_connection (g_dbus_method_invocation_get_connection (invocation), sender,
                                                    G_BUS_NAME_WATCHER_FLAGS_NONE, NULL, caller_vanished_cb,
                                                    g_object_ref (flow), g_object_unref);
  /* Reply first, so the caller knows the flow id before any signal. */
  lctl_dbus_accounts_complete_begin_login (object, invocation, lctl_login_flow_get_id (flow));
  g_idle_add (start_flow_idle, run);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static LctlLoginFlow *
lookup_flow (LctlAccountsService   *self,
             GDBusMethodInvocation *invocation,
             const char            *flow_id)
{
  LctlLoginFlow *flow = g_hash_table_lookup (self->flows, flow_id);

  if (flow == NULL)
    g_dbus_method_invocation_return_error (invocation, LCTL_ERROR, LCTL_ERROR_NOT_FOUND,
                                           "No login in progress with id %s", flow_id);
  return flow;
}

static gboolean
handle_complete_login (LctlDBusAccounts      *object,
                       GDBusMethodInvocation *invocation,
                       const char            *flow_id,
                       const char            *redirect_url)
{
  LctlAccountsService *self = LCTL_ACCOUNTS_SERVICE (object);
  LctlLoginFlow       *flow = lookup_flow (self, invocation, flow_id);
  g_autoptr (GError) error = NULL;

  if (flow == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (!lctl_login_flow_complete (flow, redirect_url, &error))
    return_error (invocation, error);
  else
    lctl_dbus_accounts_complete_complete_login (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_cancel_login (LctlDBusAccounts      *object,
                     GDBusMethodInvocation *invocation,
                     const char            *flow_id)
{
  LctlAccountsService *self = LCTL_ACCOUNTS_SERVICE (object);
  LctlLoginFlow       *flow = lookup_flow (self, invocation, flow_id);

  if (flow == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  lctl_login_flow_cancel (flow);
  lctl_dbus_accounts_complete_cancel_login (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Refresh, Logout */

static void
refresh_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr (Call) call = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlToken) token = lctl_account_manager_refresh_finish (LCTL_ACCOUNT_MANAGER (source), result, &error);

  if (token == NULL)
    return_error (call->invocation, error);
  else
    lctl_dbus_accounts_complete_refresh (LCTL_DBUS_ACCOUNTS (call->self), call->invocation, token->expires_at);
}

static gboolean
handle_refresh (LctlDBusAccounts      *object,
                GDBusMethodInvocation *invocation,
                const char            *provider)
{
  LctlAccountsService *self = LCTL_ACCOUNTS_SERVICE (object);

  lctl_account_manager_refresh_async (self->manager, provider, self->cancellable, refresh_cb,
                                      call_new (self, invocation));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
logout_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr (Call) call = user_data;
  g_autoptr (GError) error = NULL;

  if (!lctl_account_manager_logout_finish (LCTL_ACCOUNT_MANAGER (source), result, &error))
    return_error (call->invocation, error);
  else
    lctl_dbus_accounts_complete_logout (LCTL_DBUS_ACCOUNTS (call->self), call->invocation);
}

static gboolean
handle_logout (LctlDBusAccounts      *object,
               GDBusMethodInvocation *invocation,
               const char            *provider)
{
  LctlAccountsService *self = LCTL_ACCOUNTS_SERVICE (object);

  lctl_account_manager_logout_async (self->manager, provider, self->cancellable, logout_cb,
                                     call_new (self, invocation));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Export, Import */

static void
export_loaded_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr (Call) call = user_data;
  LctlAccountManager *manager = call->self->manager;
  g_autoptr (GHashTable) records = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GError) error = NULL;
  g_autofree char         *script = NULL;
  gsize                    n;
  const LctlOAuthProvider *providers = lctl_oauth_provider_get_all (&n);

  if (!lctl_account_manager_load_finish (manager, result, &error))
    {
      return_error (call->invocation, error);
      return;
    }
  if (call->providers == NULL || call->providers[0] == NULL)
    {
      for (gsize i = 0; i < n; i++)
        if (lctl_account_manager_get_record (manager, providers[i].id) != NULL)
          g_hash_table_insert (records, (gpointer) providers[i].id,
                               lctl_account_manager_get_record (manager, providers[i].id));
    }
  else
    for (char **p = call->providers; *p != NULL; p++)
      {
        const LctlOAuthProvider *provider = lctl_oauth_provider_lookup (*p);
        JsonObject              *record = provider != NULL ? lctl_account_manager_get_record (manager, provider->id) : NULL;

        if (record == NULL)
          {
            g_dbus_method_invocation_return_error (call->invocation, LCTL_ERROR, LCTL_ERROR_NOT_FOUND,
                                                   provider != NULL ? "No %s credential to export"
                                                                    : "Unknown OAuth provider “%s”",
                                                   provider != NULL ? provider->label : *p);
            return;
          }
        g_hash_table_insert (records, (gpointer) provider->id, record);
      }
  if (g_hash_table_size (records) == 0)
    {
      g_dbus_method_invocation_return_error_literal (call->invocation, LCTL_ERROR, LCTL_ERROR_NOT_FOUND,
                                                     "No credentials stored. Run 'litellmctl auth <provider>' first.");
      return;
    }
  script = lctl_credential_transfer_export (records);
  lctl_dbus_accounts_complete_export (LCTL_DBUS_ACCOUNTS (call->self), call->invocation, script);
  explicit_bzero (script, strlen (script));
}

static gboolean
handle_export (LctlDBusAccounts      *object,
               GDBusMethodInvocation *invocation,
               const char *const     *providers)
{
  LctlAccountsService *self = LCTL_ACCOUNTS_SERVICE (object);
  Call                *call = call_new (self, invocation);

  call->providers = g_strdupv ((char **) providers);
  lctl_account_manager_load_async (self->manager, self->cancellable, export_loaded_cb, call);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void import_next (Call *call);

static void
import_added_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Call *call = user_data;
  g_autoptr (GError) error = NULL;

  if (!lctl_account_manager_add_finish (LCTL_ACCOUNT_MANAGER (source), result, &error))
    {
      return_error (call->invocation, error);
      call_free (call);
      return;
    }
  import_next (call);
}

static void
import_next (Call *call)
{
  gsize                    n;
  const LctlOAuthProvider *providers = lctl_oauth_provider_get_all (&n);

  while (call->index < n)
    {
      const char *id = providers[call->index++].id;
      JsonObject *record = g_hash_table_lookup (call->records, id);

      if (record == NULL)
        continue;
      g_ptr_array_add (call->imported, g_strdup (id));
      lctl_account_manager_add_async (call->self->manager, id, record, call->self->cancellable,
                                      import_added_cb, call);
      return;
    }
  g_ptr_array_add (call->imported, NULL);
  lctl_dbus_accounts_complete_import (LCTL_DBUS_ACCOUNTS (call->self), call->invocation,
                                      (const char *const *) call->imported->pdata);
  call_free (call);
}

static gboolean
handle_import (LctlDBusAccounts      *object,
               GDBusMethodInvocation *invocation,
               const char            *script)
{
  LctlAccountsService *self = LCTL_ACCOUNTS_SERVICE (object);
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) records = lctl_credential_transfer_parse (script, &error);
  Call *call;

  if (records == NULL)
    {
      return_error (invocation, error);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  if (g_hash_table_size (records) == 0)
    {
      g_dbus_method_invocation_return_error_literal (invocation, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT,
                                                     "No credentials found in the input.");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
  call = call_new (self, invocation);
  call->records = g_steal_pointer (&records);
  call->imported = g_ptr_array_new_with_free_func (g_free);
  import_next (call);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
lctl_accounts_service_iface_init (LctlDBusAccountsIface *iface)
{
  iface->handle_list_accounts = handle_list_accounts;
  iface->handle_begin_login = handle_begin_login;
  iface->handle_complete_login = handle_complete_login;
  iface->handle_cancel_login = handle_cancel_login;
  iface->handle_refresh = handle_refresh;
  iface->handle_logout = handle_logout;
  iface->handle_export = handle_export;
  iface->handle_import = handle_import;
}

static void
lctl_accounts_service_dispose (GObject *object)
{
  LctlAccountsService *self = LCTL_ACCOUNTS_SERVICE (object);

  g_cancellable_cancel (self->cancellable);
  if (self->manager != NULL)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  G_OBJECT_CLASS (lctl_accounts_service_parent_class)->dispose (object);
}

static void
lctl_accounts_service_finalize (GObject *object)
{
  LctlAccountsService *self = LCTL_ACCOUNTS_SERVICE (object);

  g_clear_pointer (&self->flows, g_hash_table_unref);
  g_clear_object (&self->manager);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (lctl_accounts_service_parent_class)->finalize (object);
}

static void
lctl_accounts_service_class_init (LctlAccountsServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = lctl_accounts_service_dispose;
  object_class->finalize = lctl_accounts_service_finalize;
}

static void
lctl_accounts_service_init (LctlAccountsService *self)
{
  self->flows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->cancellable = g_cancellable_new ();
}

static void
initial_load_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr (GError) error = NULL;

  if (!lctl_account_manager_load_finish (LCTL_ACCOUNT_MANAGER (source), result, &error))
    g_message ("Could not load the OAuth credentials: %s", error->message);
}

/* Loading arms the proactive refresh timers and the NeedsLogin property
 * without waiting for a first request; from an idle, so the daemon can set
 * the store preference right after creating the service. */
static gboolean
initial_load_idle (gpointer user_data)
{
  LctlAccountsService *self = user_data;

  lctl_account_manager_load_async (self->manager, self->cancellable, initial_load_cb, NULL);
  return G_SOURCE_REMOVE;
}

/**
 * lctl_accounts_service_new_with_manager:
 * @manager: The account manager to serve.
 *
 * The manager loads the stored credentials from an idle callback after
 * this returns (set its store preference before the main loop runs).
 *
 * Returns: (transfer full): The service; export it with
 *   g_dbus_interface_skeleton_export() on `/io/github/litellmctl`.
 */
LctlAccountsService *
lctl_accounts_service_new_with_manager (LctlAccountManager *manager)
{
  LctlAccountsService *self = g_object_new (LCTL_TYPE_ACCOUNTS_SERVICE, NULL);
  g_auto (GStrv) none = g_new0 (char *, 1);

  self->manager = g_object_ref (manager);
  g_signal_connect (manager, "changed", G_CALLBACK (manager_changed_cb), self);
  lctl_dbus_accounts_set_needs_login (LCTL_DBUS_ACCOUNTS (self), (const char *const *) none);
  g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, initial_load_idle, g_object_ref (self), g_object_unref);
  return self;
}

/**
 * lctl_accounts_service_new:
 *
 * Returns: (transfer full): The service with its own account manager.
 */
LctlAccountsService *
lctl_accounts_service_new (void)
{
  g_autoptr (LctlAccountManager) manager = lctl_account_manager_new ();

  return lctl_accounts_service_new_with_manager (manager);
}

/**
 * lctl_accounts_service_get_token_source:
 *
 * Returns: (transfer none): Where the request path gets OAuth tokens.
 */
LctlTokenSource *
lctl_accounts_service_get_token_source (LctlAccountsService *self)
{
  g_return_val_if_fail (LCTL_IS_ACCOUNTS_SERVICE (self), NULL);

  return LCTL_TOKEN_SOURCE (self->manager);
}

/**
 * lctl_accounts_service_get_manager:
 *
 * Returns: (transfer none): The account manager (store preference, tests).
 */
LctlAccountManager *
lctl_accounts_service_get_manager (LctlAccountsService *self)
{
  g_return_val_if_fail (LCTL_IS_ACCOUNTS_SERVICE (self), NULL);

  return self->manager;
}
