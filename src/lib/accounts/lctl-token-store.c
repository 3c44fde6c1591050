/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#define G_LOG_DOMAIN "lctl-token-store"

#include "lctl-error.h"
#include "lctl-file-token-store.h"
#include "lctl-secret-token-store.h"
#include "lctl-token-store.h"

G_DEFINE_ABSTRACT_TYPE (LctlTokenStore, lctl_token_store, G_TYPE_OBJECT)

static void
lctl_token_store_class_init (LctlTokenStoreClass *klass)
{
}

static void
lctl_token_store_init (LctlTokenStore *self)
{
}

/**
 * lctl_token_store_get_backend_name:
 *
 * Returns: (transfer none): "keyring" or "file".
 */
const char *
lctl_token_store_get_backend_name (LctlTokenStore *self)
{
  g_return_val_if_fail (LCTL_IS_TOKEN_STORE (self), NULL);

  return LCTL_TOKEN_STORE_GET_CLASS (self)->backend_name;
}

void
lctl_token_store_load_async (LctlTokenStore     *self,
                             const char         *provider,
                             GCancellable       *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer            user_data)
{
  g_return_if_fail (LCTL_IS_TOKEN_STORE (self));
  g_return_if_fail (provider != NULL);

  LCTL_TOKEN_STORE_GET_CLASS (self)->load_async (self, provider, cancellable, callback, user_data);
}

/**
 * lctl_token_store_load_finish:
 *
 * Returns: (transfer full) (nullable): The record; %NULL without @error set
 *   when none is stored.
 */
JsonObject *
lctl_token_store_load_finish (LctlTokenStore *self,
                              GAsyncResult   *result,
                              GError        **error)
{
  g_return_val_if_fail (LCTL_IS_TOKEN_STORE (self), NULL);

  return LCTL_TOKEN_STORE_GET_CLASS (self)->load_finish (self, result, error);
}

void
lctl_token_store_save_async (LctlTokenStore     *self,
                             const char         *provider,
                             const char         *account,
                             JsonObject         *record,
                             GCancellable       *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer            user_data)
{
  g_return_if_fail (LCTL_IS_TOKEN_STORE (self));
  g_return_if_fail (provider != NULL && account != NULL && record != NULL);

  LCTL_TOKEN_STORE_GET_CLASS (self)->save_async (self, provider, account, record,
                                                 cancellable, callback, user_data);
}

gboolean
lctl_token_store_save_finish (LctlTokenStore *self,
                              GAsyncResult   *result,
                              GError        **error)
{
  g_return_val_if_fail (LCTL_IS_TOKEN_STORE (self), FALSE);

  return LCTL_TOKEN_STORE_GET_CLASS (self)->save_finish (self, result, error);
}

void
lctl_token_store_delete_async (LctlTokenStore     *self,
                               const char         *provider,
                               const char         *account,
                               GCancellable       *cancellable,
                               GAsyncReadyCallback callback,
                               gpointer            user_data)
{
  g_return_if_fail (LCTL_IS_TOKEN_STORE (self));
  g_return_if_fail (provider != NULL);

  LCTL_TOKEN_STORE_GET_CLASS (self)->delete_async (self, provider, account,
                                                   cancellable, callback, user_data);
}

gboolean
lctl_token_store_delete_finish (LctlTokenStore *self,
                                GAsyncResult   *result,
                                GError        **error)
{
  g_return_val_if_fail (LCTL_IS_TOKEN_STORE (self), FALSE);

  return LCTL_TOKEN_STORE_GET_CLASS (self)->delete_finish (self, result, error);
}

/* Choosing a backend: the Secret Service answers when its name has an owner
 * or can be activated on the session bus. */

static void
return_store (GTask   *task,
              gboolean keyring)
{
  LctlTokenStore *store;

  if (keyring)
    store = LCTL_TOKEN_STORE (lctl_secret_token_store_new ());
  else
    store = LCTL_TOKEN_STORE (lctl_file_token_store_new (NULL));
  g_debug ("Token store: %s", lctl_token_store_get_backend_name (store));
  g_task_return_pointer (task, store, g_object_unref);
}

static gboolean
names_contain (GVariant   *reply,
               const char *name)
{
  g_autofree const char **names = NULL;

  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(^a&s)", &names);
  return names != NULL && g_strv_contains (names, name);
}

static void
list_activatable_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, NULL);

  return_store (task, names_contain (reply, "org.freedesktop.secrets"));
}

static void
list_names_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  GDBusConnection *bus = G_DBUS_CONNECTION (source);
  g_autoptr (GVariant) reply = g_dbus_connection_call_finish (bus, result, NULL);

  if (names_contain (reply, "org.freedesktop.secrets"))
    {
      return_store (task, TRUE);
      return;
    }
  g_dbus_connection_call (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "ListActivatableNames", NULL,
                          G_VARIANT_TYPE ("(as)"), G_DBUS_CALL_FLAGS_NONE, 5000,
                          g_task_get_cancellable (task), list_activatable_cb,
                          g_object_ref (task));
}

static void
bus_get_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr (GTask) task = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) bus = g_bus_get_finish (result, &error);

  if (bus == NULL)
    {
      g_debug ("No session bus (%s); tokens go to files", error->message);
      return_store (task, FALSE);
      return;
    }
  g_dbus_connection_call (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "ListNames", NULL,
                          G_VARIANT_TYPE ("(as)"), G_DBUS_CALL_FLAGS_NONE, 5000,
                          g_task_get_cancellable (task), list_names_cb,
                          g_object_ref (task));
}

/**
 * lctl_token_store_new_default_async:
 * @preference: What the configuration asks for.
 *
 * Picks the backend: files when `LITELLMCTL_TOKEN_STORE=file` or
 * @preference says so; the Secret Service when @preference or
 * `LITELLMCTL_TOKEN_STORE=keyring` says so; otherwise the Secret Service when
 * one answers on the session bus, else files (headless servers).
 */
void
lctl_token_store_new_default_async (LctlTokenStorePreference preference,
                                    GCancellable            *cancellable,
                                    GAsyncReadyCallback      callback,
                                    gpointer                 user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  const char *env = g_getenv ("LITELLMCTL_TOKEN_STORE");

  g_task_set_source_tag (task, lctl_token_store_new_default_async);
  if (g_strcmp0 (env, "file") == 0 || preference == LCTL_TOKEN_STORE_FILE)
    {
      return_store (task, FALSE);
      return;
    }
  if (g_strcmp0 (env, "keyring") == 0 || preference == LCTL_TOKEN_STORE_KEYRING)
    {
      return_store (task, TRUE);
      return;
    }
  g_bus_get (G_BUS_TYPE_SESSION, cancellable, bus_get_cb, g_steal_pointer (&task));
}

/**
 * lctl_token_store_new_default_finish:
 *
 * Returns: (transfer full): The store.
 */
LctlTokenStore *
lctl_token_store_new_default_finish (GAsyncResult *result,
                                     GError      **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
