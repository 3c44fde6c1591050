/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#define G_LOG_DOMAIN "lctl-token-store"

#include "lctl-error.h"
#include "lctl-oauth-provider.h"
#include "lctl-oauth-util.h"
#include "lctl-secret-token-store.h"

/* Credentials in the Secret Service (gnome-keyring, KeePassXC…): one item per
 * (provider, account), its secret the JSON record. */

struct _LctlSecretTokenStore
{
  LctlTokenStore parent_instance;
};

G_DEFINE_FINAL_TYPE (LctlSecretTokenStore, lctl_secret_token_store, LCTL_TYPE_TOKEN_STORE)

/**
 * lctl_secret_token_store_get_schema:
 *
 * Returns: (transfer none): The schema `io.github.litellmctl.Token` with the
 *   attributes `provider` and `account`.
 */
const SecretSchema *
lctl_secret_token_store_get_schema (void)
{
  static const SecretSchema schema = {
    "io.github.litellmctl.Token",
    SECRET_SCHEMA_NONE,
    {
        { "provider", SECRET_SCHEMA_ATTRIBUTE_STRING },
        { "account", SECRET_SCHEMA_ATTRIBUTE_STRING },
        { NULL, 0 },
    },
  };

  return &schema;
}

static GHashTable *
attributes_new (const char *provider,
                const char *account)
{
  GHashTable *attributes = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);

  g_hash_table_insert (attributes, (gpointer) "provider", g_strdup (provider));
  if (account != NULL)
    g_hash_table_insert (attributes, (gpointer) "account", g_strdup (account));
  return attributes;
}

static void
lookup_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  char       *secret = secret_password_lookup_finish (result, &error);
  JsonObject *record;

  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (secret == NULL)
    {
      g_task_return_pointer (task, NULL, NULL);
      return;
    }
  record = lctl_credential_from_string (secret, &error);
  secret_password_free (secret);
  if (record == NULL)
    {
      g_prefix_error (&error, "Keyring item: ");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  lctl_credential_normalize (record);
  g_task_return_pointer (task, record, (GDestroyNotify) json_object_unref);
}

static void
lctl_secret_token_store_load_async (LctlTokenStore     *store,
                                    const char         *provider,
                                    GCancellable       *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (store, cancellable, callback, user_data);
  g_autoptr (GHashTable) attributes = attributes_new (provider, NULL);

  g_task_set_source_tag (task, lctl_secret_token_store_load_async);
  secret_password_lookupv (lctl_secret_token_store_get_schema (), attributes, cancellable,
                           lookup_cb, g_steal_pointer (&task));
}

static JsonObject *
lctl_secret_token_store_load_finish (LctlTokenStore *store,
                                     GAsyncResult   *result,
                                     GError        **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
store_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  if (!secret_password_store_finish (result, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
lctl_secret_token_store_save_async (LctlTokenStore     *store,
                                    const char         *provider,
                                    const char         *account,
                                    JsonObject         *record,
                                    GCancellable       *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (store, cancellable, callback, user_data);
  g_autoptr (GHashTable) attributes = attributes_new (provider, account);
  const LctlOAuthProvider *info = lctl_oauth_provider_lookup (provider);
  g_autofree char         *label = g_strdup_printf ("litellmctl: %s (%s)",
                                            info != NULL ? info->label : provider, account);
  g_autofree char         *secret = lctl_credential_to_string (record, FALSE);

  g_task_set_source_tag (task, lctl_secret_token_store_save_async);
  secret_password_storev (lctl_secret_token_store_get_schema (), attributes,
                          SECRET_COLLECTION_DEFAULT, label, secret, cancellable,
                          store_cb, g_steal_pointer (&task));
  explicit_bzero (secret, strlen (secret));
}

static gboolean
lctl_secret_token_store_save_finish (LctlTokenStore *store,
                                     GAsyncResult   *result,
                                     GError        **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
clear_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;

  /* FALSE without an error means nothing matched: fine for a delete. */
  if (!secret_password_clear_finish (result, &error) && error != NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
lctl_secret_token_store_delete_async (LctlTokenStore     *store,
                                      const char         *provider,
                                      const char         *account,
                                      GCancellable       *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer            user_data)
{
  g_autoptr (GTask) task = g_task_new (store, cancellable, callback, user_data);
  g_autoptr (GHashTable) attributes = attributes_new (provider, account);

  g_task_set_source_tag (task, lctl_secret_token_store_delete_async);
  secret_password_clearv (lctl_secret_token_store_get_schema (), attributes, cancellable,
                          clear_cb, g_steal_pointer (&task));
}

static gboolean
lctl_secret_token_store_delete_finish (LctlTokenStore *store,
                                       GAsyncResult   *result,
                                       GError        **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
lctl_secret_token_store_class_init (LctlSecretTokenStoreClass *klass)
{
  LctlTokenStoreClass *store_class = LCTL_TOKEN_STORE_CLASS (klass);

  store_class->backend_name = "keyring";
  store_class->load_async = lctl_secret_token_store_load_async;
  store_class->load_finish = lctl_secret_token_store_load_finish;
  store_class->save_async = lctl_secret_token_store_save_async;
  store_class->save_finish = lctl_secret_token_store_save_finish;
  store_class->delete_async = lctl_secret_token_store_delete_async;
  store_class->delete_finish = lctl_secret_token_store_delete_finish;
}

static void
lctl_secret_token_store_init (LctlSecretTokenStore *self)
{
}

/**
 * lctl_secret_token_store_new:
 *
 * Returns: (transfer full): A store in the default Secret Service collection.
 */
LctlSecretTokenStore *
lctl_secret_token_store_new (void)
{
  return g_object_new (LCTL_TYPE_SECRET_TOKEN_STORE, NULL);
}
