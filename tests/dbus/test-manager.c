/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <glib/gstdio.h>

#include "lctl-dbus-generated.h"
#include "lctl-error.h"
#include "lctl-test-utils.h"

static const char one_model[] =
    "model_list:\n"
    "  - model_name: demo\n"
    "    litellm_params:\n"
    "      model: openai/demo\n"
    "      mock_response: hi\n";

static const char two_models[] =
    "model_list:\n"
    "  - model_name: demo\n"
    "    litellm_params:\n"
    "      model: openai/demo\n"
    "      mock_response: hi\n"
    "  - model_name: claude-haiku-4-5\n"
    "    litellm_params:\n"
    "      model: anthropic/claude-haiku-4-5-20251001\n"
    "      api_key: os.environ/ANTHROPIC_API_KEY\n";

static void
config_applied_cb (LctlDBusManager *manager,
                   const char      *path,
                   unsigned         model_count,
                   gpointer         user_data)
{
  unsigned *applied = user_data;

  *applied = model_count;
}

static void
test_manager_api (void)
{
  g_autoptr (GTestDBus) bus = NULL;
  g_autoptr (GDBusConnection) connection = NULL;
  g_autoptr (LctlDBusManager) manager = NULL;
  g_autoptr (GVariant) status = NULL;
  g_autoptr (GVariant) models = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *config_path = g_build_filename (g_get_user_config_dir (), "litellmctl", "config.yaml", NULL);
  const char      *address = NULL;
  guint32          count = 0;
  unsigned         applied = 0;

  /* The default path, not an explicit one. */
  lctl_test_write_file (config_path, one_model);
  g_unsetenv ("LITELLMCTL_CONFIG");
  g_setenv ("LITELLMCTL_PORT", "0", TRUE);
  bus = lctl_test_dbus_up ();

  connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_assert_no_error (error);
  manager = lctl_dbus_manager_proxy_new_sync (connection, G_DBUS_PROXY_FLAGS_NONE, APP_ID, OBJECT_PATH, NULL, &error);
  g_assert_no_error (error);

  /* Activation happens on the first call. */
  g_assert_true (lctl_dbus_manager_call_get_status_sync (manager, &status, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup (status, "address", "&s", &address));
  g_assert_true (g_str_has_prefix (address, "http://127.0.0.1:"));
  g_assert_true (g_variant_lookup (status, "model-count", "u", &count));
  g_assert_cmpuint (count, ==, 1);
  g_assert_true (g_variant_lookup (status, "version", "&s", &address));
  g_assert_cmpstr (address, ==, PACKAGE_VERSION);

  /* Properties, now that the daemon owns the name. */
  g_clear_object (&manager);
  manager = lctl_dbus_manager_proxy_new_sync (connection, G_DBUS_PROXY_FLAGS_NONE, APP_ID, OBJECT_PATH, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lctl_dbus_manager_get_version (manager), ==, PACKAGE_VERSION);
  g_assert_cmpstr (lctl_dbus_manager_get_config_path (manager), ==, config_path);
  g_assert_cmpstr (lctl_dbus_manager_get_config_error (manager), ==, "");
  g_assert_true (g_str_has_prefix (lctl_dbus_manager_get_address (manager), "http://127.0.0.1:"));

  g_assert_true (lctl_dbus_manager_call_list_models_sync (manager, &models, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (models), ==, 1);

  /* A bad file: Reload fails with InvalidConfig, ConfigError says where. */
  lctl_test_write_file (config_path, "model_list: [\n");
  g_assert_false (lctl_dbus_manager_call_reload_sync (manager, NULL, &error));
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_CONFIG);
  g_assert_nonnull (strstr (error->message, config_path));
  g_clear_error (&error);
  while (g_str_equal (lctl_dbus_manager_get_config_error (manager), ""))
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (strstr (lctl_dbus_manager_get_config_error (manager), "config.yaml:"));

  /* The old snapshot still serves. */
  g_clear_pointer (&models, g_variant_unref);
  g_assert_true (lctl_dbus_manager_call_list_models_sync (manager, &models, NULL, &error));
  g_assert_cmpuint (g_variant_n_children (models), ==, 1);

  /* A good file: ConfigApplied with the new count, ConfigError cleared. */
  g_signal_connect (manager, "config-applied", G_CALLBACK (config_applied_cb), &applied);
  lctl_test_write_file (config_path, two_models);
  g_assert_true (lctl_dbus_manager_call_reload_sync (manager, NULL, &error));
  g_assert_no_error (error);
  while (applied != 2)
    g_main_context_iteration (NULL, TRUE);
  while (!g_str_equal (lctl_dbus_manager_get_config_error (manager), ""))
    g_main_context_iteration (NULL, TRUE);

  g_clear_pointer (&models, g_variant_unref);
  g_assert_true (lctl_dbus_manager_call_list_models_sync (manager, &models, NULL, &error));
  g_assert_cmpuint (g_variant_n_children (models), ==, 2);
  {
    g_autoptr (GVariant) second = g_variant_get_child_value (models, 1);
    const char *value = NULL;

    g_assert_true (g_variant_lookup (second, "name", "&s", &value));
    g_assert_cmpstr (value, ==, "claude-haiku-4-5");
    g_assert_true (g_variant_lookup (second, "provider", "&s", &value));
    g_assert_cmpstr (value, ==, "anthropic");
    g_assert_true (g_variant_lookup (second, "model", "&s", &value));
    g_assert_cmpstr (value, ==, "claude-haiku-4-5-20251001");
    g_assert_true (g_variant_lookup (second, "state", "&s", &value));
    g_assert_cmpstr (value, ==, "ok");
  }

  /* Quit: the name goes away. */
  g_assert_true (lctl_dbus_manager_call_quit_sync (manager, NULL, &error));
  g_assert_no_error (error);
  for (;;)
    {
      g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (manager));

      if (owner == NULL)
        break;
      g_main_context_iteration (NULL, TRUE);
    }

  g_clear_object (&manager);
  g_clear_object (&connection);
  g_test_dbus_down (bus);
}

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);
  /* Maps io.github.litellmctl.Error.* replies back to LCTL_ERROR. */
  lctl_error_quark ();

  g_test_add_func ("/manager/api", test_manager_api);

  return g_test_run ();
}
