/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#define G_LOG_DOMAIN "lctl-token-store"

#include <errno.h>
#include <glib/gstdio.h>

#include "lctl-error.h"
#include "lctl-file-token-store.h"
#include "lctl-oauth-util.h"

/* One JSON file per provider, `<dir>/<provider>.json`, mode 0600 in a 0700
 * directory, replaced atomically (temporary file + rename) so a crash never
 * leaves half a credential. File I/O runs in GTask worker threads. */

struct _LctlFileTokenStore
{
  LctlTokenStore parent_instance;

  char *directory;
};

G_DEFINE_FINAL_TYPE (LctlFileTokenStore, lctl_file_token_store, LCTL_TYPE_TOKEN_STORE)

typedef struct
{
  char *path;
  char *directory;
  char *account;
  char *contents;
} FileOp;

static void
file_op_free (FileOp *op)
{
  g_free (op->path);
  g_free (op->directory);
  g_free (op->account);
  if (op->contents != NULL)
    explicit_bzero (op->contents, strlen (op->contents));
  g_free (op->contents);
  g_free (op);
}

static char *
provider_path (LctlFileTokenStore *self,
               const char         *provider)
{
  g_autofree char *name = g_strconcat (provider, ".json", NULL);

  /* Provider keys are ours, but never let one escape the directory. */
  g_return_val_if_fail (strchr (provider, '/') == NULL && provider[0] != '.', NULL);
  return g_build_filename (self->directory, name, NULL);
}

static GTask *
file_task_new (LctlFileTokenStore *self,
               const char         *provider,
               GCancellable       *cancellable,
               GAsyncReadyCallback callback,
               gpointer            user_data,
               gpointer            source_tag)
{
  GTask  *task = g_task_new (self, cancellable, callback, user_data);
  FileOp *op = g_new0 (FileOp, 1);

  g_task_set_source_tag (task, source_tag);
  op->path = provider_path (self, provider);
  op->directory = g_strdup (self->directory);
  g_task_set_task_data (task, op, (GDestroyNotify) file_op_free);
  return task;
}

static void
load_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  FileOp          *op = task_data;
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *record;
  gsize       len = 0;

  if (!g_file_get_contents (op->path, &contents, &len, &error))
    {
      if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_task_return_pointer (task, NULL, NULL);
      else
        g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  record = lctl_credential_from_string (contents, &error);
  explicit_bzero (contents, len);
  if (record == NULL)
    {
      g_prefix_error (&error, "%s: ", op->path);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  lctl_credential_normalize (record);
  g_task_return_pointer (task, record, (GDestroyNotify) json_object_unref);
}

static void
lctl_file_token_store_load_async (LctlTokenStore     *store,
                                  const char         *provider,
                                  GCancellable       *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer            user_data)
{
  g_autoptr (GTask) task = file_task_new (LCTL_FILE_TOKEN_STORE (store), provider, cancellable,
                                          callback, user_data, lctl_file_token_store_load_async);

  g_task_run_in_thread (task, load_thread);
}

static JsonObject *
lctl_file_token_store_load_finish (LctlTokenStore *store,
                                   GAsyncResult   *result,
                                   GError        **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
ensure_private_directory (const char *directory,
                          GError    **error)
{
  if (g_mkdir_with_parents (directory, 0700) != 0 || g_chmod (directory, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "Could not create %s: %s", directory, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static void
save_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  FileOp *op = task_data;
  g_autoptr (GError) error = NULL;

  if (!ensure_private_directory (op->directory, &error) || !g_file_set_contents_full (op->path, op->contents, -1,
                                                                                      G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
lctl_file_token_store_save_async (LctlTokenStore     *store,
                                  const char         *provider,
                                  const char         *account,
                                  JsonObject         *record,
                                  GCancellable       *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer            user_data)
{
  g_autoptr (GTask) task = file_task_new (LCTL_FILE_TOKEN_STORE (store), provider, cancellable,
                                          callback, user_data, lctl_file_token_store_save_async);
  FileOp          *op = g_task_get_task_data (task);
  g_autofree char *json = lctl_credential_to_string (record, TRUE);

  op->contents = g_strconcat (json, "\n", NULL);
  explicit_bzero (json, strlen (json));
  g_task_run_in_thread (task, save_thread);
}

static gboolean
lctl_file_token_store_save_finish (LctlTokenStore *store,
                                   GAsyncResult   *result,
                                   GError        **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
delete_thread (GTask        *task,
               gpointer      source,
               gpointer      task_data,
               GCancellable *cancellable)
{
  FileOp *op = task_data;

  if (op->account != NULL)
    {
      g_autofree char *contents = NULL;
      g_autoptr (JsonObject) record = NULL;
      g_autofree char *account = NULL;

      if (!g_file_get_contents (op->path, &contents, NULL, NULL))
        {
          g_task_return_boolean (task, TRUE);
          return;
        }
      record = lctl_credential_from_string (contents, NULL);
      account = record != NULL ? lctl_credential_get_account (record) : NULL;
      if (account != NULL && !g_str_equal (account, op->account))
        {
          g_task_return_boolean (task, TRUE);
          return;
        }
    }
  if (g_unlink (op->path) != 0 && errno != ENOENT)
    {
      int saved = errno;

      g_task_return_new_error (task, G_FILE_ERROR, g_file_error_from_errno (saved),
                               "Could not delete %s: %s", op->path, g_strerror (saved));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
lctl_file_token_store_delete_async (LctlTokenStore     *store,
                                    const char         *provider,
                                    const char         *account,
                                    GCancellable       *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data)
{
  g_autoptr (GTask) task = file_task_new (LCTL_FILE_TOKEN_STORE (store), provider, cancellable,
                                          callback, user_data, lctl_file_token_store_delete_async);
  FileOp *op = g_task_get_task_data (task);

  op->account = g_strdup (account);
  g_task_run_in_thread (task, delete_thread);
}

static gboolean
lctl_file_token_store_delete_finish (LctlTokenStore *store,
                                     GAsyncResult   *result,
                                     GError        **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
lctl_file_token_store_finalize (GObject *object)
{
  LctlFileTokenStore *self = LCTL_FILE_TOKEN_STORE (object);

  g_free (self->directory);
  G_OBJECT_CLASS (lctl_file_token_store_parent_class)->finalize (object);
}

static void
lctl_file_token_store_class_init (LctlFileTokenStoreClass *klass)
{
  GObjectClass        *object_class = G_OBJECT_CLASS (klass);
  LctlTokenStoreClass *store_class = LCTL_TOKEN_STORE_CLASS (klass);

  object_class->finalize = lctl_file_token_store_finalize;
  store_class->backend_name = "file";
  store_class->load_async = lctl_file_token_store_load_async;
  store_class->load_finish = lctl_file_token_store_load_finish;
  store_class->save_async = lctl_file_token_store_save_async;
  store_class->save_finish = lctl_file_token_store_save_finish;
  store_class->delete_async = lctl_file_token_store_delete_async;
  store_class->delete_finish = lctl_file_token_store_delete_finish;
}

static void
lctl_file_token_store_init (LctlFileTokenStore *self)
{
}

/**
 * lctl_file_token_store_default_directory:
 *
 * Returns: (transfer full): `$XDG_DATA_HOME/litellmctl/auth`.
 */
char *
lctl_file_token_store_default_directory (void)
{
  return g_build_filename (g_get_user_data_dir (), "litellmctl", "auth", NULL);
}

/**
 * lctl_file_token_store_new:
 * @directory: (nullable): Where the files go; %NULL for
 *   `$XDG_DATA_HOME/litellmctl/auth`.
 *
 * Returns: (transfer full): A new file store.
 */
LctlFileTokenStore *
lctl_file_token_store_new (const char *directory)
{
  LctlFileTokenStore *self = g_object_new (LCTL_TYPE_FILE_TOKEN_STORE, NULL);

  self->directory = directory != NULL ? g_strdup (directory) : lctl_file_token_store_default_directory ();
  return self;
}

/**
 * lctl_file_token_store_get_directory:
 *
 * Returns: (transfer none): The directory holding the files.
 */
const char *
lctl_file_token_store_get_directory (LctlFileTokenStore *self)
{
  g_return_val_if_fail (LCTL_IS_FILE_TOKEN_STORE (self), NULL);

  return self->directory;
}
