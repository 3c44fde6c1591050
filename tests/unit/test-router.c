/*
 * SPDX-License-Identifier: LGPL-2.1-or-later
 * SPDX-FileCopyrightText: Copyright © the litellmctl contributors
 */
#include "config.h"

#include <string.h>

#include "lctl-error.h"
#include "lctl-route-plan.h"
#include "lctl-router.h"
#include "lctl-test-utils.h"

/* Test-local config builder: the loader lives elsewhere, and the router
 * only reads struct fields, so the tests assemble snapshots by hand. */

static LctlConfig *
config_new (void)
{
  LctlConfig *config = g_new0 (LctlConfig, 1);

  config->path = g_strdup ("test.yaml");
  config->deployments = g_ptr_array_new ();
  config->router.num_retries = 0;
  config->router.retry_after = 0;
  config->router.allowed_fails = 3;
  config->router.cooldown_time = 5;
  config->router.max_cooldown_time = 60;
  config->router.max_fallbacks = 5;
  config->router.fallbacks = g_ptr_array_new ();
  config->router.context_window_fallbacks = g_ptr_array_new ();
  config->router.content_policy_fallbacks = g_ptr_array_new ();
  config->router.model_group_alias = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return config;
}

static LctlDeployment *
config_add (LctlConfig *config,
            const char *model_name,
            const char *model,
            const char *api_base,
            int         weight)
{
  LctlDeployment *deployment = g_new0 (LctlDeployment, 1);
  const char     *slash = strchr (model, '/');

  g_assert_nonnull (slash);
  deployment->model_name = g_strdup (model_name);
  deployment->model = g_strdup (model);
  deployment->provider = g_strndup (model, (gsize) (slash - model));
  deployment->upstream_model = g_strdup (slash + 1);
  deployment->api_base = g_strdup (api_base);
  deployment->weight = weight;
  deployment->index = config->deployments->len;
  deployment->id = g_strdup_printf ("%s#%u", model_name, deployment->index);
  g_ptr_array_add (config->deployments, deployment);
  return deployment;
}

static void
fallbacks_add (GPtrArray  *fallbacks,
               const char *group,
               ...)
{
  LctlFallback *fallback = g_new0 (LctlFallback, 1);
  GStrvBuilder *builder = g_strv_builder_new ();
  va_list       args;
  const char   *name;

  va_start (args, group);
  while ((name = va_arg (args, const char *)) != NULL)
    g_strv_builder_add (builder, name);
  va_end (args);

  fallback->model_name = g_strdup (group);
  fallback->chain = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  g_ptr_array_add (fallbacks, fallback);
}

static void
fallbacks_free (GPtrArray *fallbacks)
{
  for (unsigned i = 0; i < fallbacks->len; i++)
    {
      LctlFallback *fallback = g_ptr_array_index (fallbacks, i);

      g_free (fallback->model_name);
      g_strfreev (fallback->chain);
      g_free (fallback);
    }
  g_ptr_array_unref (fallbacks);
}

static void
config_free (LctlConfig *config)
{
  for (unsigned i = 0; i < config->deployments->len; i++)
    {
      LctlDeployment *deployment = g_ptr_array_index (config->deployments, i);

      g_free (deployment->model_name);
      g_free (deployment->model);
      g_free (deployment->provider);
      g_free (deployment->upstream_model);
      g_free (deployment->api_base);
      g_free (deployment->id);
      g_free (deployment);
    }
  g_ptr_array_unref (config->deployments);
  fallbacks_free (config->router.fallbacks);
  fallbacks_free (config->router.context_window_fallbacks);
  fallbacks_free (config->router.content_policy_fallbacks);
  g_hash_table_unref (config->router.model_group_alias);
  g_free (config->router.routing_strategy);
  g_free (config->path);
  g_free (config);
}

/* lctl-config.h ties g_autoptr (LctlConfig) to lctl_config_unref(), which is
 * not ours to call: hand-built snapshots get their own name. */
typedef LctlConfig TestConfig;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestConfig, config_free)

/* The seed's router_settings and the groups of its claude-sonnet-4-5 chain. */
static LctlConfig *
seed_config_new (void)
{
  LctlConfig *config = config_new ();

  config_add (config, "kimi-code/kimi-for-coding", "kimi_code/kimi-for-coding", NULL, 1);
  config_add (config, "qwen-cli/qwen3-coder-plus", "qwen_portal/qwen3-coder-plus", NULL, 1);
  config_add (config, "dashscope/qwen3-coder-plus", "openai/qwen3-coder-plus", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", 1);
  config_add (config, "codex/gpt-5.3-codex-spark", "chatgpt/gpt-5.3-codex-spark", NULL, 1);
  config_add (config, "minimax/MiniMax-M2.5-highspeed", "anthropic/MiniMax-M2.5-highspeed", "https://api.minimax.io/anthropic", 1);
  config_add (config, "zai/glm-4.5-air", "anthropic/glm-4.5-air", "https://api.z.ai/api/anthropic", 1);
  config_add (config, "claude-sonnet-4-5", "anthropic/claude-sonnet-4-5-20250929", NULL, 1);
  config_add (config, "claude-haiku-4-5", "anthropic/claude-haiku-4-5-20251001", NULL, 1);

  config->router.num_retries = 2;
  config->router.timeout = 600;
  config->router.retry_after = 5;
  config->router.allowed_fails = 1;
  fallbacks_add (config->router.fallbacks, "claude-sonnet-4-5",
                 "kimi-code/kimi-for-coding", "qwen-cli/qwen3-coder-plus",
                 "dashscope/qwen3-coder-plus", "codex/gpt-5.3-codex-spark",
                 "minimax/MiniMax-M2.5-highspeed", "zai/glm-4.5-air", NULL);
  return config;
}

/* Fake clock */

typedef struct
{
  gint64 monotonic;
  gint64 real;
} FakeClock;

#define REAL_EPOCH G_GINT64_CONSTANT (1800000000)

static void
fake_clock_read (gpointer user_data,
                 gint64  *monotonic_us,
                 gint64  *real_us)
{
  FakeClock *clock = user_data;

  *monotonic_us = clock->monotonic;
  *real_us = clock->real;
}

static void
fake_clock_advance (FakeClock *clock,
                    double     seconds)
{
  gint64 delta = (gint64) (seconds * G_USEC_PER_SEC);

  clock->monotonic += delta;
  clock->real += delta;
}

/* Fixture: a router on a fake clock with a fixed seed, and the state
 * changes it signalled. */

typedef struct
{
  FakeClock   clock;
  LctlRouter *router;
  GPtrArray  *events; /* "model|deployment|state|until-relative" */
} Fixture;

static void
on_state_changed (LctlRouter *router,
                  const char *model_name,
                  const char *deployment,
                  const char *state,
                  gint64      until,
                  gpointer    user_data)
{
  Fixture *fixture = user_data;

  g_ptr_array_add (fixture->events,
                   g_strdup_printf ("%s|%s|%s|%" G_GINT64_FORMAT, model_name, deployment, state,
                                    until ? until - REAL_EPOCH : 0));
}

static void
fixture_set_up (Fixture      *fixture,
                gconstpointer data)
{
  fixture->clock.monotonic = G_GINT64_CONSTANT (1000) * G_USEC_PER_SEC;
  fixture->clock.real = REAL_EPOCH * G_USEC_PER_SEC;
  fixture->router = lctl_router_new ();
  lctl_router_set_clock (fixture->router, fake_clock_read, &fixture->clock);
  lctl_router_set_seed (fixture->router, 42);
  fixture->events = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (fixture->router, "deployment-state-changed", G_CALLBACK (on_state_changed), fixture);
}

static void
fixture_tear_down (Fixture      *fixture,
                   gconstpointer data)
{
  g_clear_object (&fixture->router);
  g_clear_pointer (&fixture->events, g_ptr_array_unref);
}

/* Fault injection: what each model group answers. */

typedef struct
{
  int                  status; /* 200 = success */
  LctlRouteFailureKind kind;
  double               retry_after;
} Fault;

static const Fault FAULT_OK = { 200, LCTL_ROUTE_FAILURE_NONE, 0 };
static const Fault FAULT_429 = { 429, LCTL_ROUTE_FAILURE_RATE_LIMIT, 0 };
static const Fault FAULT_500 = { 500, LCTL_ROUTE_FAILURE_SERVER, 0 };
static const Fault FAULT_DOWN = { 0, LCTL_ROUTE_FAILURE_CONNECTION, 0 };
static const Fault FAULT_401 = { 401, LCTL_ROUTE_FAILURE_AUTH, 0 };
static const Fault FAULT_400 = { 400, LCTL_ROUTE_FAILURE_BAD_REQUEST, 0 };
static const Fault FAULT_CONTEXT = { 400, LCTL_ROUTE_FAILURE_CONTEXT_WINDOW, 0 };

static GHashTable *
faults_new (void)
{
  return g_hash_table_new (g_str_hash, g_str_equal);
}

static void
report (LctlRoutePlan          *plan,
        const LctlRouteAttempt *attempt,
        const Fault            *fault,
        double                  latency_ms)
{
  LctlRouteOutcome outcome = { 0 };

  outcome.success = fault->status == 200;
  outcome.status = fault->status;
  outcome.kind = fault->kind;
  outcome.retry_after = fault->retry_after;
  outcome.latency_ms = latency_ms;
  outcome.ttft_ms = outcome.success ? latency_ms : 0;
  if (!outcome.success)
    outcome.error = lctl_route_failure_kind_to_string (fault->kind);
  lctl_route_plan_report (plan, attempt, &outcome);
}

/* Drives a plan as the pipeline would: waits (on the fake clock) as told,
 * lets each attempt take @latency_ms, answers from @faults (success for
 * groups not listed). Returns the route as "group:wait_ms ..." */
static char *
drive (Fixture       *fixture,
       LctlRoutePlan *plan,
       GHashTable    *faults,
       double         latency_ms)
{
  GString         *trace = g_string_new (NULL);
  LctlRouteAttempt attempt;
  unsigned         guard = 0;

  while (lctl_route_plan_next (plan, &attempt))
    {
      const Fault *fault = g_hash_table_lookup (faults, attempt.model_group);

      g_assert_cmpuint (++guard, <, 200);
      fake_clock_advance (&fixture->clock, attempt.wait_ms / 1000.0);
      if (trace->len)
        g_string_append_c (trace, ' ');
      g_string_append_printf (trace, "%s:%u", attempt.model_group, attempt.wait_ms);
      fake_clock_advance (&fixture->clock, latency_ms / 1000.0);
      report (plan, &attempt, fault ? fault : &FAULT_OK, latency_ms);
    }
  return g_string_free (trace, FALSE);
}

static char *
route (Fixture    *fixture,
       LctlConfig *config,
       const char *model,
       GHashTable *faults,
       double      latency_ms,
       char      **served_group)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlRoutePlan) plan = NULL;
  const LctlRouteAttemptRecord *served;
  char                         *trace;

  plan = lctl_router_plan (fixture->router, config, model, NULL, &error);
  g_assert_no_error (error);
  trace = drive (fixture, plan, faults, latency_ms);
  served = lctl_route_plan_get_served (plan);
  if (served_group)
    *served_group = served ? g_strdup (served->model_group) : NULL;
  return trace;
}

static const LctlDeployment *
find_deployment (LctlConfig *config,
                 const char *model_name)
{
  for (unsigned i = 0; i < config->deployments->len; i++)
    {
      const LctlDeployment *deployment = g_ptr_array_index (config->deployments, i);

      if (g_strcmp0 (deployment->model_name, model_name) == 0)
        return deployment;
    }
  g_assert_not_reached ();
}

static LctlDeploymentStatus
status_of (Fixture    *fixture,
           LctlConfig *config,
           const char *model_name)
{
  LctlDeploymentStatus status;

  g_assert_true (lctl_router_get_deployment_status (fixture->router, config,
                                                    find_deployment (config, model_name), &status));
  return status;
}

/* The acceptance scenario: the primary answers 429, the first two
 * fallbacks are down, the third serves. Seed settings: num_retries 2,
 * retry_after 5, allowed_fails 1. */
static void
test_chain_seed_sonnet (Fixture      *fixture,
                        gconstpointer data)
{
  g_autoptr (TestConfig) config = seed_config_new ();
  g_autoptr (GHashTable) faults = faults_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlRoutePlan) plan = NULL;
  g_autofree char              *trace = NULL;
  g_autofree char              *header = NULL;
  const LctlRouteAttemptRecord *served;
  GPtrArray                    *attempts;
  LctlRouteAttemptRecord       *first;

  g_hash_table_insert (faults, "claude-sonnet-4-5", (gpointer) &FAULT_429);
  g_hash_table_insert (faults, "kimi-code/kimi-for-coding", (gpointer) &FAULT_DOWN);
  g_hash_table_insert (faults, "qwen-cli/qwen3-coder-plus", (gpointer) &FAULT_DOWN);

  plan = lctl_router_plan (fixture->router, config, "claude-sonnet-4-5-20250929", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lctl_route_plan_get_model_group (plan), ==, "claude-sonnet-4-5");

  /* Each attempt takes 100 ms, so the retry 5 s later falls just outside
   * the 5 s cooldown window: every group uses its 2 retries. */
  trace = drive (fixture, plan, faults, 100);
  g_assert_cmpstr (trace, ==,
                   "claude-sonnet-4-5:0 claude-sonnet-4-5:5000 claude-sonnet-4-5:5000 "
                   "kimi-code/kimi-for-coding:0 kimi-code/kimi-for-coding:5000 kimi-code/kimi-for-coding:5000 "
                   "qwen-cli/qwen3-coder-plus:0 qwen-cli/qwen3-coder-plus:5000 qwen-cli/qwen3-coder-plus:5000 "
                   "dashscope/qwen3-coder-plus:0");

  served = lctl_route_plan_get_served (plan);
  g_assert_nonnull (served);
  g_assert_cmpstr (served->model_group, ==, "dashscope/qwen3-coder-plus");
  g_assert_cmpstr (served->deployment_model, ==, "openai/qwen3-coder-plus");
  g_assert_cmpint (served->status, ==, 200);
  g_assert_cmpuint (served->fallback_depth, ==, 1);

  attempts = lctl_route_plan_get_attempts (plan);
  g_assert_cmpuint (attempts->len, ==, 10);
  first = g_ptr_array_index (attempts, 0);
  g_assert_cmpstr (first->deployment_id, ==, "claude-sonnet-4-5#6");
  g_assert_cmpstr (first->upstream_model, ==, "claude-sonnet-4-5-20250929");
  g_assert_cmpint (first->status, ==, 429);
  g_assert_cmpstr (first->error, ==, "rate_limit");
  g_assert_cmpint (((LctlRouteAttemptRecord *) g_ptr_array_index (attempts, 3))->status, ==, 0);

  header = lctl_route_plan_format_attempts (plan);
  g_assert_true (g_str_has_prefix (header, "claude-sonnet-4-5#6=429, claude-sonnet-4-5#6=429, claude-sonnet-4-5#6=429, kimi-code/kimi-for-coding#0=conn"));
  g_assert_true (g_str_has_suffix (header, "dashscope/qwen3-coder-plus#2=200"));

  {
    g_autoptr (GVariant) variant = g_variant_ref_sink (lctl_route_plan_attempts_to_variant (plan));
    g_autoptr (GVariant) last = g_variant_get_child_value (variant, 9);
    const char *deployment = NULL;
    guint32     status = 0;

    g_assert_cmpuint (g_variant_n_children (variant), ==, 10);
    g_assert_true (g_variant_lookup (last, "deployment", "&s", &deployment));
    g_assert_cmpstr (deployment, ==, "openai/qwen3-coder-plus");
    g_assert_true (g_variant_lookup (last, "status", "u", &status));
    g_assert_cmpuint (status, ==, 200);
  }
}

/* With instant answers and cooldown_time 60 the retry lands inside the
 * window: allowed_fails 1 lets the second failure cool the group down, and
 * the route moves on without the third attempt. */
static void
test_chain_seed_fast_failures (Fixture      *fixture,
                               gconstpointer data)
{
  g_autoptr (TestConfig) config = seed_config_new ();
  g_autoptr (GHashTable) faults = faults_new ();
  g_autofree char *trace = NULL;
  g_autofree char *served = NULL;

  g_hash_table_insert (faults, "claude-sonnet-4-5", (gpointer) &FAULT_429);
  g_hash_table_insert (faults, "kimi-code/kimi-for-coding", (gpointer) &FAULT_DOWN);
  g_hash_table_insert (faults, "qwen-cli/qwen3-coder-plus", (gpointer) &FAULT_DOWN);
  config->router.cooldown_time = 60;

  trace = route (fixture, config, "claude-sonnet-4-5", faults, 0, &served);
  g_assert_cmpstr (trace, ==,
                   "claude-sonnet-4-5:0 claude-sonnet-4-5:5000 "
                   "kimi-code/kimi-for-coding:0 kimi-code/kimi-for-coding:5000 "
                   "qwen-cli/qwen3-coder-plus:0 qwen-cli/qwen3-coder-plus:5000 "
                   "dashscope/qwen3-coder-plus:0");
  g_assert_cmpstr (served, ==, "dashscope/qwen3-coder-plus");
  g_assert_cmpuint (fixture->events->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (fixture->events, 0), ==,
                   "claude-sonnet-4-5|anthropic/claude-sonnet-4-5-20250929|cooldown|65");
  g_assert_cmpstr (g_ptr_array_index (fixture->events, 2), ==,
                   "qwen-cli/qwen3-coder-plus|qwen_portal/qwen3-coder-plus|cooldown|75");

  /* The next request skips the cooled-down groups without waiting. */
  g_clear_pointer (&trace, g_free);
  g_clear_pointer (&served, g_free);
  g_hash_table_remove_all (faults);
  trace = route (fixture, config, "claude-sonnet-4-5", faults, 0, &served);
  g_assert_cmpstr (trace, ==, "dashscope/qwen3-coder-plus:0");
}

static LctlConfig *
two_group_config_new (int num_retries)
{
  LctlConfig *config = config_new ();

  config_add (config, "a", "anthropic/a", NULL, 1);
  config_add (config, "b", "openai/b", NULL, 1);
  config->router.num_retries = num_retries;
  config->router.allowed_fails = 100;
  fallbacks_add (config->router.fallbacks, "a", "b", NULL);
  return config;
}

static void
test_retries_count (Fixture      *fixture,
                    gconstpointer data)
{
  g_autoptr (GHashTable) faults = faults_new ();
  struct
  {
    int          num_retries;
    const Fault *fault;
    const char  *trace;
  } cases[] = {
    { 2, &FAULT_500, "a:0 a:0 a:0 b:0" },
    { 2, &FAULT_429, "a:0 a:0 a:0 b:0" },
    { 2, &FAULT_DOWN, "a:0 a:0 a:0 b:0" },
    { 0, &FAULT_500, "a:0 b:0" },
    { 2, &FAULT_401, "a:0 b:0" },     /* not retryable: straight to fallbacks */
    { 2, &FAULT_CONTEXT, "a:0 b:0" }, /* no context chain: the ordinary one */
    { 2, &FAULT_400, "a:0" },         /* malformed: no fallback either */
  };

  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (TestConfig) config = two_group_config_new (cases[i].num_retries);
      g_autofree char *trace = NULL;

      g_hash_table_insert (faults, "a", (gpointer) cases[i].fault);
      trace = route (fixture, config, "a", faults, 10, NULL);
      g_assert_cmpstr (trace, ==, cases[i].trace);
    }
}

static void
test_retries_wait (Fixture      *fixture,
                   gconstpointer data)
{
  g_autoptr (GHashTable) faults = faults_new ();
  Fault ra3 = { 429, LCTL_ROUTE_FAILURE_RATE_LIMIT, 3 };
  Fault ra90 = { 429, LCTL_ROUTE_FAILURE_RATE_LIMIT, 90 };
  struct
  {
    double       retry_after;
    double       cooldown_time;
    const Fault *fault;
    const char  *trace;
  } cases[] = {
    /* retry_after is a floor */
    { 5, 5, &FAULT_500, "a:0 a:5000 b:0" },
    /* the upstream's Retry-After, when larger, is honoured */
    { 1, 5, &ra3, "a:0 a:3000 b:0" },
    /* the setting, when larger than the upstream's */
    { 4, 5, &ra3, "a:0 a:4000 b:0" },
    /* capped at max_cooldown_time (60) */
    { 1, 100, &ra90, "a:0 a:60000 b:0" },
    { 120, 5, &FAULT_500, "a:0 a:60000 b:0" },
  };

  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (TestConfig) config = two_group_config_new (1);
      g_autofree char *trace = NULL;

      lctl_router_reset_cooldowns (fixture->router, NULL);
      config->router.retry_after = cases[i].retry_after;
      config->router.cooldown_time = cases[i].cooldown_time;
      g_hash_table_insert (faults, "a", (gpointer) cases[i].fault);
      trace = route (fixture, config, "a", faults, 10, NULL);
      g_assert_cmpstr (trace, ==, cases[i].trace);
    }
}

/* No wait when another healthy deployment of the group is available. */
static void
test_retries_other_deployment (Fixture      *fixture,
                               gconstpointer data)
{
  g_autoptr (TestConfig) config = config_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlRoutePlan) plan = NULL;
  LctlRouteAttempt first, second, third;

  config_add (config, "g", "anthropic/m", "https://one.example", 1);
  config_add (config, "g", "anthropic/m", "https://two.example", 1);
  config->router.num_retries = 2;
  config->router.retry_after = 5;

  plan = lctl_router_plan (fixture->router, config, "g", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (lctl_route_plan_next (plan, &first));
  g_assert_cmpuint (first.wait_ms, ==, 0);
  report (plan, &first, &FAULT_429, 10);

  g_assert_true (lctl_route_plan_next (plan, &second));
  g_assert_true (second.deployment != first.deployment);
  g_assert_cmpuint (second.wait_ms, ==, 0);
  g_assert_cmpuint (second.retry, ==, 1);
  report (plan, &second, &FAULT_500, 10);

  /* Both failed once: the third try waits retry_after. */
  g_assert_true (lctl_route_plan_next (plan, &third));
  g_assert_cmpuint (third.wait_ms, ==, 5000);
  report (plan, &third, &FAULT_OK, 10);
  g_assert_false (lctl_route_plan_next (plan, &third));
  g_assert_nonnull (lctl_route_plan_get_served (plan));
}

static LctlConfig *
single_config_new (int    allowed_fails,
                   double cooldown_time)
{
  LctlConfig *config = config_new ();

  config_add (config, "a", "anthropic/a", NULL, 1);
  config->router.allowed_fails = allowed_fails;
  config->router.cooldown_time = cooldown_time;
  return config;
}

static void
test_cooldown_enter (Fixture      *fixture,
                     gconstpointer data)
{
  g_autoptr (TestConfig) config = single_config_new (2, 10);
  g_autoptr (GHashTable) faults = faults_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlRoutePlan) plan = NULL;
  LctlRouteOutcome failure;
  LctlRouteAttempt attempt;

  g_hash_table_insert (faults, "a", (gpointer) &FAULT_500);
  for (unsigned i = 0; i < 2; i++)
    {
      g_free (route (fixture, config, "a", faults, 10, NULL));
      fake_clock_advance (&fixture->clock, 1);
      g_assert_false (status_of (fixture, config, "a").cooling_down);
    }
  g_assert_cmpuint (status_of (fixture, config, "a").recent_fails, ==, 2);
  g_assert_cmpuint (fixture->events->len, ==, 0);

  /* The third failure within 10 s: allowed_fails (2) exceeded. */
  g_free (route (fixture, config, "a", faults, 10, NULL));
  g_assert_true (status_of (fixture, config, "a").cooling_down);
  g_assert_cmpuint (fixture->events->len, ==, 1);
  /* 2.01 s after the epoch (two 1 s steps, three 10 ms attempts), + 10 s,
   * rounded up to whole seconds. */
  g_assert_cmpstr (g_ptr_array_index (fixture->events, 0), ==, "a|anthropic/a|cooldown|13");
  g_assert_cmpint (status_of (fixture, config, "a").cooldown_until, ==, REAL_EPOCH + 13);

  /* Everything is cooling down: nothing to try, a 429 saying when. */
  plan = lctl_router_plan (fixture->router, config, "a", NULL, &error);
  g_assert_no_error (error);
  fake_clock_advance (&fixture->clock, 4);
  g_assert_false (lctl_route_plan_next (plan, &attempt));
  g_assert_cmpuint (lctl_route_plan_get_attempts (plan)->len, ==, 0);
  g_assert_true (lctl_route_plan_get_last_failure (plan, &failure));
  g_assert_cmpint (failure.status, ==, 429);
  g_assert_cmpfloat (failure.retry_after, ==, 6);
  g_assert_nonnull (strstr (failure.error, "cooling down"));
}

static void
test_cooldown_spread (Fixture      *fixture,
                      gconstpointer data)
{
  g_autoptr (TestConfig) config = single_config_new (2, 10);
  g_autoptr (GHashTable) faults = faults_new ();

  g_hash_table_insert (faults, "a", (gpointer) &FAULT_429);
  for (unsigned i = 0; i < 6; i++)
    {
      g_autofree char *trace = route (fixture, config, "a", faults, 10, NULL);

      g_assert_cmpstr (trace, ==, "a:0");
      fake_clock_advance (&fixture->clock, 5.1);
    }
  /* Never three within 10 s. */
  g_assert_false (status_of (fixture, config, "a").cooling_down);
  g_assert_cmpuint (fixture->events->len, ==, 0);

  /* Failures exactly one window apart are still within it. */
  config->router.allowed_fails = 1;
  lctl_router_reset_cooldowns (fixture->router, NULL);
  g_free (route (fixture, config, "a", faults, 0, NULL));
  fake_clock_advance (&fixture->clock, 10);
  g_free (route (fixture, config, "a", faults, 0, NULL));
  g_assert_true (status_of (fixture, config, "a").cooling_down);
}

static void
test_cooldown_exit (Fixture      *fixture,
                    gconstpointer data)
{
  g_autoptr (TestConfig) config = single_config_new (0, 30);
  g_autoptr (GHashTable) faults = faults_new ();
  g_autoptr (GVariant) models = NULL;
  g_autoptr (GVariant) model = NULL;
  g_autofree char *trace = NULL;
  const char      *state = NULL;
  gint64           until = -1;

  g_hash_table_insert (faults, "a", (gpointer) &FAULT_500);
  g_free (route (fixture, config, "a", faults, 0, NULL));
  g_assert_cmpuint (fixture->events->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->events, 0), ==, "a|anthropic/a|cooldown|30");

  models = g_variant_ref_sink (lctl_router_list_states (fixture->router, config));
  model = g_variant_get_child_value (models, 0);
  g_assert_true (g_variant_lookup (model, "state", "&s", &state));
  g_assert_cmpstr (state, ==, "cooldown");
  g_assert_true (g_variant_lookup (model, "cooldown-until", "x", &until));
  g_assert_cmpint (until, ==, REAL_EPOCH + 30);
  g_clear_pointer (&model, g_variant_unref);
  g_clear_pointer (&models, g_variant_unref);

  fake_clock_advance (&fixture->clock, 29.9);
  lctl_router_check_cooldowns (fixture->router);
  g_assert_cmpuint (fixture->events->len, ==, 1);
  g_assert_true (status_of (fixture, config, "a").cooling_down);

  fake_clock_advance (&fixture->clock, 0.1);
  lctl_router_check_cooldowns (fixture->router);
  g_assert_cmpuint (fixture->events->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (fixture->events, 1), ==, "a|anthropic/a|ok|0");

  models = g_variant_ref_sink (lctl_router_list_states (fixture->router, config));
  model = g_variant_get_child_value (models, 0);
  g_assert_true (g_variant_lookup (model, "state", "&s", &state));
  g_assert_cmpstr (state, ==, "ok");

  g_hash_table_remove_all (faults);
  trace = route (fixture, config, "a", faults, 0, NULL);
  g_assert_cmpstr (trace, ==, "a:0");
}

static void
on_state_changed_flag (LctlRouter *router,
                       const char *model_name,
                       const char *deployment,
                       const char *state,
                       gint64      until,
                       gpointer    user_data)
{
  if (g_str_equal (state, "ok"))
    *(gboolean *) user_data = TRUE;
}

/* With the real clock, the main loop ends the cooldown: no request needed. */
static void
test_cooldown_exit_timer (void)
{
  g_autoptr (LctlRouter) router = lctl_router_new ();
  g_autoptr (TestConfig) config = single_config_new (0, 0.2);
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlRoutePlan) plan = NULL;
  LctlRouteAttempt     attempt;
  LctlDeploymentStatus status;
  gboolean             back = FALSE;
  gint64               start = g_get_monotonic_time ();

  g_signal_connect (router, "deployment-state-changed", G_CALLBACK (on_state_changed_flag), &back);
  plan = lctl_router_plan (router, config, "a", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (lctl_route_plan_next (plan, &attempt));
  report (plan, &attempt, &FAULT_DOWN, 1);
  g_assert_true (lctl_router_get_deployment_status (router, config, attempt.deployment, &status));
  g_assert_true (status.cooling_down);
  g_assert_cmpint (status.cooldown_until, >=, g_get_real_time () / G_USEC_PER_SEC);

  lctl_test_wait_for (&back, 5000);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 200000);
  g_assert_true (lctl_router_get_deployment_status (router, config, attempt.deployment, &status));
  g_assert_false (status.cooling_down);
}

/* A 429 with Retry-After: 600000 (a spent weekly quota) benches the
 * deployment for max_cooldown_time (60 s), not for a week. */
static void
test_cooldown_retry_after_cap (Fixture      *fixture,
                               gconstpointer data)
{
  g_autoptr (TestConfig) config = two_group_config_new (2);
  g_autoptr (GHashTable) faults = faults_new ();
  Fault            absurd = { 429, LCTL_ROUTE_FAILURE_RATE_LIMIT, 600000 };
  g_autofree char *trace = NULL;
  g_autofree char *served = NULL;

  config->router.allowed_fails = 3;
  config->router.retry_after = 1;
  g_hash_table_insert (faults, "a", &absurd);

  /* Cooled down at once (the upstream said so), so no 60 s wait: b serves. */
  trace = route (fixture, config, "a", faults, 10, &served);
  g_assert_cmpstr (trace, ==, "a:0 b:0");
  g_assert_cmpstr (served, ==, "b");
  g_assert_cmpuint (fixture->events->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (fixture->events, 0), ==, "a|anthropic/a|cooldown|61");

  g_hash_table_remove_all (faults);
  fake_clock_advance (&fixture->clock, 59);
  g_clear_pointer (&trace, g_free);
  trace = route (fixture, config, "a", faults, 10, NULL);
  g_assert_cmpstr (trace, ==, "b:0");

  /* 60 s after the 429: back in rotation, with the signal. */
  fake_clock_advance (&fixture->clock, 1);
  g_clear_pointer (&trace, g_free);
  trace = route (fixture, config, "a", faults, 10, NULL);
  g_assert_cmpstr (trace, ==, "a:0");
  g_assert_cmpuint (fixture->events->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (fixture->events, 1), ==, "a|anthropic/a|ok|0");
}

static void
test_cooldown_reset (Fixture      *fixture,
                     gconstpointer data)
{
  g_autoptr (TestConfig) config = two_group_config_new (0);
  g_autoptr (GHashTable) faults = faults_new ();

  config->router.allowed_fails = 0;
  config->router.cooldown_time = 300;
  g_hash_table_insert (faults, "a", (gpointer) &FAULT_500);
  g_hash_table_insert (faults, "b", (gpointer) &FAULT_500);
  g_free (route (fixture, config, "a", faults, 10, NULL));
  g_assert_true (status_of (fixture, config, "a").cooling_down);
  g_assert_true (status_of (fixture, config, "b").cooling_down);
  g_assert_cmpuint (fixture->events->len, ==, 2);

  g_assert_cmpuint (lctl_router_reset_cooldowns (fixture->router, "b"), ==, 1);
  g_assert_true (status_of (fixture, config, "a").cooling_down);
  g_assert_false (status_of (fixture, config, "b").cooling_down);
  g_assert_cmpstr (g_ptr_array_index (fixture->events, 2), ==, "b|openai/b|ok|0");

  g_assert_cmpuint (lctl_router_reset_cooldowns (fixture->router, NULL), ==, 1);
  g_assert_false (status_of (fixture, config, "a").cooling_down);
  g_assert_cmpuint (fixture->events->len, ==, 4);
  g_assert_cmpuint (lctl_router_reset_cooldowns (fixture->router, ""), ==, 0);
}

/* Health is keyed by identity, not by snapshot: a reload that moves the
 * deployment keeps its cooldown; a different endpoint is another deployment. */
static void
test_cooldown_survives_reload (Fixture      *fixture,
                               gconstpointer data)
{
  g_autoptr (TestConfig) config = single_config_new (0, 30);
  g_autoptr (TestConfig) reloaded = config_new ();
  g_autoptr (GHashTable) faults = faults_new ();
  g_autofree char *trace = NULL;

  g_hash_table_insert (faults, "a", (gpointer) &FAULT_500);
  g_free (route (fixture, config, "a", faults, 10, NULL));
  g_clear_pointer (&config, config_free);

  config_add (reloaded, "z", "anthropic/z", NULL, 1);
  config_add (reloaded, "a", "anthropic/a", "https://elsewhere.example", 1);
  config_add (reloaded, "a", "anthropic/a", NULL, 1);
  reloaded->router.cooldown_time = 30;

  g_assert_false (status_of (fixture, reloaded, "z").cooling_down);
  {
    LctlDeploymentStatus status;

    g_assert_true (lctl_router_get_deployment_status (fixture->router, reloaded,
                                                      g_ptr_array_index (reloaded->deployments, 2), &status));
    g_assert_true (status.cooling_down);
    g_assert_true (lctl_router_get_deployment_status (fixture->router, reloaded,
                                                      g_ptr_array_index (reloaded->deployments, 1), &status));
    g_assert_false (status.cooling_down);
  }

  /* Only the endpoint that is not cooling down gets requests. */
  g_hash_table_remove_all (faults);
  for (unsigned i = 0; i < 20; i++)
    {
      g_autoptr (LctlRoutePlan) plan = lctl_router_plan (fixture->router, reloaded, "a", NULL, NULL);
      LctlRouteAttempt attempt;

      g_assert_true (lctl_route_plan_next (plan, &attempt));
      g_assert_cmpstr (attempt.deployment->api_base, ==, "https://elsewhere.example");
      report (plan, &attempt, &FAULT_OK, 10);
    }
}

static void
test_fallbacks_context_window (Fixture      *fixture,
                               gconstpointer data)
{
  g_autoptr (TestConfig) config = config_new ();
  g_autoptr (GHashTable) faults = faults_new ();
  g_autofree char *trace = NULL;
  Fault            policy = { 400, LCTL_ROUTE_FAILURE_CONTENT_POLICY, 0 };

  config_add (config, "a", "anthropic/a", NULL, 1);
  config_add (config, "b", "openai/b", NULL, 1);
  config_add (config, "big", "openai/big", NULL, 1);
  config_add (config, "lenient", "openai/lenient", NULL, 1);
  config->router.num_retries = 1;
  config->router.allowed_fails = 100;
  fallbacks_add (config->router.fallbacks, "a", "b", NULL);
  fallbacks_add (config->router.context_window_fallbacks, "a", "big", NULL);
  fallbacks_add (config->router.content_policy_fallbacks, "a", "lenient", NULL);

  g_hash_table_insert (faults, "a", (gpointer) &FAULT_CONTEXT);
  trace = route (fixture, config, "a", faults, 10, NULL);
  g_assert_cmpstr (trace, ==, "a:0 big:0");

  g_hash_table_insert (faults, "a", (gpointer) &FAULT_500);
  g_clear_pointer (&trace, g_free);
  trace = route (fixture, config, "a", faults, 10, NULL);
  g_assert_cmpstr (trace, ==, "a:0 a:0 b:0");

  g_hash_table_insert (faults, "a", &policy);
  g_clear_pointer (&trace, g_free);
  trace = route (fixture, config, "a", faults, 10, NULL);
  g_assert_cmpstr (trace, ==, "a:0 lenient:0");

  /* A context error in the ordinary chain's group goes to its context
   * chain, not further down the ordinary one. */
  g_hash_table_insert (faults, "a", (gpointer) &FAULT_CONTEXT);
  g_hash_table_insert (faults, "big", (gpointer) &FAULT_CONTEXT);
  g_clear_pointer (&trace, g_free);
  trace = route (fixture, config, "a", faults, 10, NULL);
  g_assert_cmpstr (trace, ==, "a:0 big:0");
}

static void
test_fallbacks_loop (Fixture      *fixture,
                     gconstpointer data)
{
  g_autoptr (TestConfig) config = config_new ();
  g_autoptr (GHashTable) faults = faults_new ();
  g_autofree char *trace = NULL;
  g_autofree char *served = NULL;
  g_autoptr (LctlRoutePlan) plan = NULL;
  LctlRouteOutcome failure;

  config_add (config, "a", "anthropic/a", NULL, 1);
  config_add (config, "b", "openai/b", NULL, 1);
  config_add (config, "c", "openai/c", NULL, 1);
  config->router.allowed_fails = 100;
  fallbacks_add (config->router.fallbacks, "a", "b", NULL);
  fallbacks_add (config->router.fallbacks, "b", "a", "c", "b", NULL);
  fallbacks_add (config->router.fallbacks, "c", "a", "b", NULL);
  g_hash_table_insert (faults, "a", (gpointer) &FAULT_500);
  g_hash_table_insert (faults, "b", (gpointer) &FAULT_429);
  g_hash_table_insert (faults, "c", (gpointer) &FAULT_DOWN);

  plan = lctl_router_plan (fixture->router, config, "a", NULL, NULL);
  trace = drive (fixture, plan, faults, 10);
  g_assert_cmpstr (trace, ==, "a:0 b:0 c:0");
  g_assert_null (lctl_route_plan_get_served (plan));
  /* All failed: the last error is the one reported. */
  g_assert_true (lctl_route_plan_get_last_failure (plan, &failure));
  g_assert_cmpint (failure.status, ==, 0);
  g_assert_cmpint (failure.kind, ==, LCTL_ROUTE_FAILURE_CONNECTION);
}

static void
test_fallbacks_depth (Fixture      *fixture,
                      gconstpointer data)
{
  g_autoptr (TestConfig) config = config_new ();
  g_autoptr (GHashTable) faults = faults_new ();
  g_autofree char *trace = NULL;
  const char      *names[] = { "g0", "g1", "g2", "g3", "g4", "g5", "g6" };

  config->router.allowed_fails = 100;
  config->router.max_fallbacks = 3;
  for (unsigned i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *model = g_strdup_printf ("openai/%s", names[i]);

      config_add (config, names[i], model, NULL, 1);
      g_hash_table_insert (faults, (gpointer) names[i], (gpointer) &FAULT_500);
      if (i + 1 < G_N_ELEMENTS (names))
        fallbacks_add (config->router.fallbacks, names[i], names[i + 1], NULL);
    }

  /* Fallbacks of fallbacks, depth-first, three levels deep. */
  trace = route (fixture, config, "g0", faults, 10, NULL);
  g_assert_cmpstr (trace, ==, "g0:0 g1:0 g2:0 g3:0");

  /* A flat list is not limited by max_fallbacks. */
  fallbacks_free (config->router.fallbacks);
  config->router.fallbacks = g_ptr_array_new ();
  fallbacks_add (config->router.fallbacks, "g0", "g1", "g2", "g3", "g4", "g5", NULL);
  fallbacks_add (config->router.fallbacks, "g1", "g6", NULL);
  g_clear_pointer (&trace, g_free);
  trace = route (fixture, config, "g0", faults, 10, NULL);
  g_assert_cmpstr (trace, ==, "g0:0 g1:0 g6:0 g2:0 g3:0 g4:0 g5:0");

  config->router.max_fallbacks = 1;
  g_clear_pointer (&trace, g_free);
  trace = route (fixture, config, "g0", faults, 10, NULL);
  g_assert_cmpstr (trace, ==, "g0:0 g1:0 g2:0 g3:0 g4:0 g5:0");
}

static char *
route_with_body_fallbacks (Fixture    *fixture,
                           LctlConfig *config,
                           const char *json,
                           GHashTable *faults)
{
  g_autoptr (JsonNode) node = json_from_string (json, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlRoutePlan) plan = NULL;

  g_assert_nonnull (node);
  plan = lctl_router_plan (fixture->router, config, "a", node, &error);
  g_assert_no_error (error);
  return drive (fixture, plan, faults, 10);
}

static void
test_fallbacks_request (Fixture      *fixture,
                        gconstpointer data)
{
  g_autoptr (TestConfig) config = config_new ();
  g_autoptr (GHashTable) faults = faults_new ();
  g_autoptr (JsonNode) invalid = json_from_string ("{\"a\": \"b\"}", NULL);
  g_autoptr (JsonNode) invalid2 = json_from_string ("[1, 2]", NULL);
  g_autoptr (GError) error = NULL;
  LctlRoutePlan *plan;
  char          *trace;

  config_add (config, "a", "anthropic/a", NULL, 1);
  config_add (config, "b", "openai/b", NULL, 1);
  config_add (config, "c", "openai/c", NULL, 1);
  config_add (config, "d", "openai/d", NULL, 1);
  config->router.allowed_fails = 100;
  fallbacks_add (config->router.fallbacks, "a", "b", NULL);
  fallbacks_add (config->router.fallbacks, "c", "d", NULL);
  g_hash_table_insert (faults, "a", (gpointer) &FAULT_500);
  g_hash_table_insert (faults, "b", (gpointer) &FAULT_500);
  g_hash_table_insert (faults, "c", (gpointer) &FAULT_500);

  trace = route_with_body_fallbacks (fixture, config, "null", faults);
  g_assert_cmpstr (trace, ==, "a:0 b:0");
  g_free (trace);

  /* A list of names replaces the configured chain; the fallback's own
   * configured chain still applies. */
  trace = route_with_body_fallbacks (fixture, config, "[\"c\"]", faults);
  g_assert_cmpstr (trace, ==, "a:0 c:0 d:0");
  g_free (trace);

  trace = route_with_body_fallbacks (fixture, config, "[{\"a\": [\"d\"]}]", faults);
  g_assert_cmpstr (trace, ==, "a:0 d:0");
  g_free (trace);

  trace = route_with_body_fallbacks (fixture, config, "[]", faults);
  g_assert_cmpstr (trace, ==, "a:0");
  g_free (trace);

  plan = lctl_router_plan (fixture->router, config, "a", invalid, &error);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT);
  g_assert_null (plan);
  g_clear_error (&error);
  plan = lctl_router_plan (fixture->router, config, "a", invalid2, &error);
  g_assert_error (error, LCTL_ERROR, LCTL_ERROR_INVALID_ARGUMENT);
  g_assert_null (plan);
}

static void
test_resolve (void)
{
  g_autoptr (TestConfig) config = config_new ();
  g_autoptr (LctlRouter) router = lctl_router_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (LctlRoutePlan) plan = NULL;
  LctlRouteAttempt attempt;
  gboolean         wildcard = TRUE;
  char            *group;
  struct
  {
    const char *requested;
    const char *group;
    gboolean    wildcard;
  } cases[] = {
    { "claude-haiku-4-5", "claude-haiku-4-5", FALSE },
    { "claude-haiku-4-5-20251001", "claude-haiku-4-5", FALSE },
    { "claude-haiku-4-5-latest", "claude-haiku-4-5", FALSE },
    { "haiku", "claude-haiku-4-5", FALSE },
    { "sonnet", "claude-haiku-4-5", FALSE }, /* alias to a dated name */
    { "claude-opus-4-8", "claude-*", TRUE },
    { "llmengine/gpt-4o", "llmengine/*", TRUE },
    { "gpt-5", "*", TRUE },
  };

  config_add (config, "claude-haiku-4-5", "anthropic/claude-haiku-4-5-20251001", NULL, 1);
  config_add (config, "claude-*", "anthropic/*", NULL, 1);
  config_add (config, "llmengine/*", "openai/*", NULL, 1);
  config_add (config, "*", "openai/*", NULL, 1);
  g_hash_table_insert (config->router.model_group_alias, g_strdup ("haiku"), g_strdup ("claude-haiku-4-5"));
  g_hash_table_insert (config->router.model_group_alias, g_strdup ("sonnet"), g_strdup ("claude-haiku-4-5-20251001"));

  for (unsigned i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      group = lctl_router_resolve_group (config, cases[i].requested, &wildcard);
      g_assert_cmpstr (group, ==, cases[i].group);
      g_assert_cmpint (wildcard, ==, cases[i].wildcard);
      g_free (group);
    }

  plan = lctl_router_plan (router, config, "claude-opus-4-8", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (lctl_route_plan_next (plan, &attempt));
  g_assert_cmpstr (attempt.model_group, ==, "claude-*");
  g_assert_cmpstr (attempt.upstream_model, ==, "claude-opus-4-8");
  g_assert_cmpstr (attempt.deployment->provider, ==, "anthropic");
  report (plan, &attempt, &FAULT_OK, 1);
  g_clear_pointer (&plan, lctl_route_plan_free);

  plan = lctl_router_plan (router, config, "llmengine/gpt-4o", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (lctl_route_plan_next (plan, &attempt));
  g_assert_cmpstr (attempt.upstream_model, ==, "gpt-4o");
  report (plan, &attempt, &FAULT_OK, 1);
  g_clear_pointer (&plan, lctl_route_plan_free);

  plan = lctl_router_plan (router, config, "claude-haiku-4-5-20251001", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (lctl_route_plan_next (plan, &attempt));
  g_assert_cmpstr (attempt.upstream_model, ==, "claude-haiku-4-5-20251001");
  report (plan, &attempt, &FAULT_OK, 1);
  g_clear_pointer (&plan, lctl_route_plan_free);

  /* Without the catch-all, unknown names are not found. */
  {
    g_autoptr (TestConfig) strict = config_new ();

    config_add (strict, "claude-haiku-4-5", "anthropic/claude-haiku-4-5-20251001", NULL, 1);
    g_assert_null (lctl_router_resolve_group (strict, "gpt-5", NULL));
    g_assert_null (lctl_router_resolve_group (strict, "claude-haiku-4-5-2025", NULL));
    g_assert_null (lctl_router_resolve_group (strict, "", NULL));
    plan = lctl_router_plan (router, strict, "gpt-5", NULL, &error);
    g_assert_error (error, LCTL_ERROR, LCTL_ERROR_NOT_FOUND);
    g_assert_null (plan);
  }
}

static void
test_balance_shuffle (Fixture      *fixture,
                      gconstpointer data)
{
  g_autoptr (TestConfig) config = config_new ();
  g_autoptr (GHashTable) faults = faults_new ();
  unsigned       counts[3] = { 0 };
  const unsigned n = 6000;

  config_add (config, "g", "openai/m", "https://one.example", 1);
  config_add (config, "g", "openai/m", "https://two.example", 2);
  config_add (config, "g", "openai/m", "https://three.example", 3);

  for (unsigned i = 0; i < n; i++)
    {
      g_autoptr (LctlRoutePlan) plan = lctl_router_plan (fixture->router, config, "g", NULL, NULL);
      LctlRouteAttempt attempt;

      g_assert_true (lctl_route_plan_next (plan, &attempt));
      counts[attempt.deployment->index]++;
      report (plan, &attempt, &FAULT_OK, 10);
    }

  /* Expect 1/6, 2/6, 3/6 of the requests, within 3 percentage points. */
  g_assert_cmpfloat_with_epsilon ((double) counts[0] / n, 1.0 / 6, 0.03);
  g_assert_cmpfloat_with_epsilon ((double) counts[1] / n, 2.0 / 6, 0.03);
  g_assert_cmpfloat_with_epsilon ((double) counts[2] / n, 3.0 / 6, 0.03);

  /* A deployment in cooldown is skipped whatever its weight. */
  {
    LctlConfig      *c = config;
    Fault            down = FAULT_DOWN;
    LctlRouteAttempt attempt;

    c->router.allowed_fails = 0;
    for (;;)
      {
        g_autoptr (LctlRoutePlan) p = lctl_router_plan (fixture->router, c, "g", NULL, NULL);

        g_assert_true (lctl_route_plan_next (p, &attempt));
        if (attempt.deployment->index == 2)
          {
            report (p, &attempt, &down, 10);
            break;
          }
        report (p, &attempt, &FAULT_OK, 10);
      }
    for (unsigned i = 0; i < 200; i++)
      {
        g_autoptr (LctlRoutePlan) p = lctl_router_plan (fixture->router, c, "g", NULL, NULL);

        g_assert_true (lctl_route_plan_next (p, &attempt));
        g_assert_cmpuint (attempt.deployment->index, !=, 2);
        report (p, &attempt, &FAULT_OK, 10);
      }
  }
}

static void
test_balance_least_busy (Fixture      *fixture,
                         gconstpointer data)
{
  g_autoptr (TestConfig) config = config_new ();
  LctlRoutePlan   *plans[3];
  LctlRouteAttempt attempts[3];
  gboolean         used[3] = { FALSE };

  config->router.routing_strategy = g_strdup ("least-busy");
  config_add (config, "g", "openai/m", "https://one.example", 1);
  config_add (config, "g", "openai/m", "https://two.example", 1);
  config_add (config, "g", "openai/m", "https://three.example", 1);

  for (unsigned round = 0; round < 20; round++)
    {
      memset (used, 0, sizeof used);
      for (unsigned i = 0; i < 3; i++)
        {
          plans[i] = lctl_router_plan (fixture->router, config, "g", NULL, NULL);
          g_assert_true (lctl_route_plan_next (plans[i], &attempts[i]));
          /* Always an idle one while there is one. */
          g_assert_false (used[attempts[i].deployment->index]);
          used[attempts[i].deployment->index] = TRUE;
        }
      /* Finish the one on "two": the next request takes it. */
      for (unsigned i = 0; i < 3; i++)
        if (attempts[i].deployment->index == 1)
          {
            report (plans[i], &attempts[i], &FAULT_OK, 10);
            g_clear_pointer (&plans[i], lctl_route_plan_free);
          }
      {
        g_autoptr (LctlRoutePlan) plan = lctl_router_plan (fixture->router, config, "g", NULL, NULL);
        LctlRouteAttempt attempt;

        g_assert_true (lctl_route_plan_next (plan, &attempt));
        g_assert_cmpuint (attempt.deployment->index, ==, 1);
        /* Freed without a report: the client went away. */
      }
      for (unsigned i = 0; i < 3; i++)
        g_clear_pointer (&plans[i], lctl_route_plan_free);
    }
}

static void
test_balance_latency (Fixture      *fixture,
                      gconstpointer data)
{
  g_autoptr (TestConfig) config = config_new ();
  const double latency[3] = { 900, 150, 400 };

  config->router.routing_strategy = g_strdup ("latency-based-routing");
  config_add (config, "g", "openai/m", "https://one.example", 1);
  config_add (config, "g", "openai/m", "https://two.example", 1);
  config_add (config, "g", "openai/m", "https://three.example", 1);

  /* Unmeasured deployments go first, so each gets measured once. */
  for (unsigned i = 0; i < 3; i++)
    {
      g_autoptr (LctlRoutePlan) plan = lctl_router_plan (fixture->router, config, "g", NULL, NULL);
      LctlRouteAttempt attempt;

      g_assert_true (lctl_route_plan_next (plan, &attempt));
      g_assert_cmpuint (attempt.deployment->index, ==, i);
      report (plan, &attempt, &FAULT_OK, latency[i]);
    }

  for (unsigned i = 0; i < 10; i++)
    {
      g_autoptr (LctlRoutePlan) plan = lctl_router_plan (fixture->router, config, "g", NULL, NULL);
      LctlRouteAttempt attempt;

      g_assert_true (lctl_route_plan_next (plan, &attempt));
      g_assert_cmpuint (attempt.deployment->index, ==, 1);
      report (plan, &attempt, &FAULT_OK, 150);
    }

  /* The fastest slows down (2 s): its average (705 ms) passes the next
   * one's (400 ms), which takes over. */
  {
    g_autoptr (LctlRoutePlan) plan = lctl_router_plan (fixture->router, config, "g", NULL, NULL);
    LctlRouteAttempt attempt;

    g_assert_true (lctl_route_plan_next (plan, &attempt));
    g_assert_cmpuint (attempt.deployment->index, ==, 1);
    report (plan, &attempt, &FAULT_OK, 2000);
  }
  g_assert_cmpfloat_with_epsilon (status_of (fixture, config, "g").latency_ms, 900, 0.001);
  {
    g_autoptr (LctlRoutePlan) plan = lctl_router_plan (fixture->router, config, "g", NULL, NULL);
    LctlRouteAttempt attempt;

    g_assert_true (lctl_route_plan_next (plan, &attempt));
    g_assert_cmpuint (attempt.deployment->index, ==, 2);
    report (plan, &attempt, &FAULT_OK, 400);
  }
}

/* Property: whatever the mix of failures, a request is served whenever any
 * group of its chain has a deployment that answers, and by the first such
 * group in chain order. */
static void
test_property_any_healthy (void)
{
  const Fault       *failures[] = { &FAULT_429, &FAULT_500, &FAULT_DOWN, &FAULT_401 };
  static const Fault timeout = { 0, LCTL_ROUTE_FAILURE_TIMEOUT, 0 };
  static const Fault overloaded = { 529, LCTL_ROUTE_FAILURE_OVERLOADED, 2 };
  static const Fault long_ra = { 429, LCTL_ROUTE_FAILURE_RATE_LIMIT, 600000 };
  const char        *chain[] = {
           "claude-sonnet-4-5", "kimi-code/kimi-for-coding", "qwen-cli/qwen3-coder-plus",
           "dashscope/qwen3-coder-plus", "codex/gpt-5.3-codex-spark",
           "minimax/MiniMax-M2.5-highspeed", "zai/glm-4.5-air"
  };
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);

  for (unsigned iteration = 0; iteration < 300; iteration++)
    {
      g_autoptr (TestConfig) config = seed_config_new ();
      g_autoptr (GHashTable) faults = faults_new ();
      Fixture          fixture = { 0 };
      const char      *expected = NULL;
      g_autofree char *served = NULL;
      g_autofree char *trace = NULL;

      fixture_set_up (&fixture, NULL);
      lctl_router_set_seed (fixture.router, iteration);
      config->router.num_retries = g_rand_int_range (rand, 0, 3);
      config->router.allowed_fails = g_rand_int_range (rand, 0, 3);

      for (unsigned i = 0; i < G_N_ELEMENTS (chain); i++)
        {
          int          pick = g_rand_int_range (rand, 0, 10);
          const Fault *fault;

          if (pick < 3)
            fault = NULL; /* healthy */
          else if (pick < 7)
            fault = failures[pick - 3];
          else if (pick == 7)
            fault = &timeout;
          else if (pick == 8)
            fault = &overloaded;
          else
            fault = &long_ra;

          if (fault)
            g_hash_table_insert (faults, (gpointer) chain[i], (gpointer) fault);
          else if (expected == NULL)
            expected = chain[i];
        }

      trace = route (&fixture, config, "claude-sonnet-4-5", faults, 20, &served);
      if (g_test_verbose ())
        g_test_message ("%u: %s", iteration, trace);
      g_assert_cmpstr (served, ==, expected);
      fixture_tear_down (&fixture, NULL);
    }
}

/* After the first byte, a failure updates health but never falls back. */
static void
test_commit (Fixture      *fixture,
             gconstpointer data)
{
  g_autoptr (TestConfig) config = two_group_config_new (2);
  g_autoptr (LctlRoutePlan) plan = NULL;
  LctlRouteAttempt attempt;
  LctlRouteOutcome failure;
  GPtrArray       *attempts;

  plan = lctl_router_plan (fixture->router, config, "a", NULL, NULL);
  g_assert_true (lctl_route_plan_next (plan, &attempt));
  g_assert_cmpuint (status_of (fixture, config, "a").in_flight, ==, 1);
  lctl_route_plan_commit (plan);
  g_assert_true (lctl_route_plan_is_committed (plan));
  report (plan, &attempt, &FAULT_DOWN, 10);

  g_assert_false (lctl_route_plan_next (plan, &attempt));
  attempts = lctl_route_plan_get_attempts (plan);
  g_assert_cmpuint (attempts->len, ==, 1);
  g_assert_null (lctl_route_plan_get_served (plan));
  g_assert_true (lctl_route_plan_get_last_failure (plan, &failure));
  g_assert_cmpint (failure.kind, ==, LCTL_ROUTE_FAILURE_CONNECTION);
  g_assert_cmpuint (status_of (fixture, config, "a").recent_fails, ==, 1);
  g_assert_cmpuint (status_of (fixture, config, "a").in_flight, ==, 0);
  g_assert_cmpstr (status_of (fixture, config, "a").last_error, ==, "connection");
}

static void
test_classify (void)
{
  g_assert_cmpint (lctl_route_failure_kind_classify (0, NULL), ==, LCTL_ROUTE_FAILURE_CONNECTION);
  g_assert_cmpint (lctl_route_failure_kind_classify (429, "rate limited"), ==, LCTL_ROUTE_FAILURE_RATE_LIMIT);
  g_assert_cmpint (lctl_route_failure_kind_classify (529, NULL), ==, LCTL_ROUTE_FAILURE_OVERLOADED);
  g_assert_cmpint (lctl_route_failure_kind_classify (503, NULL), ==, LCTL_ROUTE_FAILURE_SERVER);
  g_assert_cmpint (lctl_route_failure_kind_classify (408, NULL), ==, LCTL_ROUTE_FAILURE_TIMEOUT);
  g_assert_cmpint (lctl_route_failure_kind_classify (401, NULL), ==, LCTL_ROUTE_FAILURE_AUTH);
  g_assert_cmpint (lctl_route_failure_kind_classify (404, NULL), ==, LCTL_ROUTE_FAILURE_NOT_FOUND);
  g_assert_cmpint (lctl_route_failure_kind_classify (400, "prompt is too long: 210000 tokens > 200000 maximum"), ==,
                   LCTL_ROUTE_FAILURE_CONTEXT_WINDOW);
  g_assert_cmpint (lctl_route_failure_kind_classify (400, "This model's maximum context length is 128000 tokens"), ==,
                   LCTL_ROUTE_FAILURE_CONTEXT_WINDOW);
  g_assert_cmpint (lctl_route_failure_kind_classify (400, "Output blocked by content filtering policy (content_filter)"), ==,
                   LCTL_ROUTE_FAILURE_CONTENT_POLICY);
  g_assert_cmpint (lctl_route_failure_kind_classify (400, "messages: field required"), ==, LCTL_ROUTE_FAILURE_BAD_REQUEST);
  g_assert_cmpint (lctl_route_failure_kind_classify (418, NULL), ==, LCTL_ROUTE_FAILURE_OTHER);

  g_assert_true (lctl_route_failure_kind_is_retryable (LCTL_ROUTE_FAILURE_OVERLOADED));
  g_assert_false (lctl_route_failure_kind_is_retryable (LCTL_ROUTE_FAILURE_AUTH));
  g_assert_true (lctl_route_failure_counts_for_cooldown (LCTL_ROUTE_FAILURE_AUTH, 401));
  g_assert_false (lctl_route_failure_counts_for_cooldown (LCTL_ROUTE_FAILURE_AUTH, 403));
  g_assert_false (lctl_route_failure_counts_for_cooldown (LCTL_ROUTE_FAILURE_BAD_REQUEST, 400));
  g_assert_false (lctl_route_failure_counts_for_cooldown (LCTL_ROUTE_FAILURE_CONTEXT_WINDOW, 400));
}

/* Failures that do not count (a malformed request) never cool anything. */
static void
test_cooldown_ignores_client_errors (Fixture      *fixture,
                                     gconstpointer data)
{
  g_autoptr (TestConfig) config = single_config_new (0, 30);
  g_autoptr (GHashTable) faults = faults_new ();

  g_hash_table_insert (faults, "a", (gpointer) &FAULT_400);
  g_free (route (fixture, config, "a", faults, 10, NULL));
  g_hash_table_insert (faults, "a", (gpointer) &FAULT_CONTEXT);
  g_free (route (fixture, config, "a", faults, 10, NULL));
  g_assert_false (status_of (fixture, config, "a").cooling_down);
  g_assert_cmpuint (fixture->events->len, ==, 0);

  /* A success ends a cooldown at once. */
  g_hash_table_insert (faults, "a", (gpointer) &FAULT_429);
  g_free (route (fixture, config, "a", faults, 10, NULL));
  g_assert_true (status_of (fixture, config, "a").cooling_down);
  {
    g_autoptr (LctlRoutePlan) plan = NULL;
    LctlRouteAttempt attempt;

    /* A request that started before the cooldown answers after it. */
    lctl_router_reset_cooldowns (fixture->router, NULL);
    plan = lctl_router_plan (fixture->router, config, "a", NULL, NULL);
    g_assert_true (lctl_route_plan_next (plan, &attempt));
    g_free (route (fixture, config, "a", faults, 10, NULL));
    g_assert_true (status_of (fixture, config, "a").cooling_down);
    report (plan, &attempt, &FAULT_OK, 10);
    g_assert_false (status_of (fixture, config, "a").cooling_down);
    g_assert_cmpstr (g_ptr_array_index (fixture->events, fixture->events->len - 1), ==, "a|anthropic/a|ok|0");
  }
}

/* The client is told to come back when we would try again, not in a week. */
static void
test_last_failure_retry_after (Fixture      *fixture,
                               gconstpointer data)
{
  g_autoptr (TestConfig) config = single_config_new (3, 5);
  g_autoptr (LctlRoutePlan) plan = NULL;
  Fault            absurd = { 429, LCTL_ROUTE_FAILURE_RATE_LIMIT, 600000 };
  LctlRouteOutcome failure;
  LctlRouteAttempt attempt;

  plan = lctl_router_plan (fixture->router, config, "a", NULL, NULL);
  g_assert_true (lctl_route_plan_next (plan, &attempt));
  report (plan, &attempt, &absurd, 10);
  g_assert_false (lctl_route_plan_next (plan, &attempt));
  g_assert_true (lctl_route_plan_get_last_failure (plan, &failure));
  g_assert_cmpint (failure.status, ==, 429);
  g_assert_cmpfloat (failure.retry_after, ==, 60);
  g_assert_cmpstr (failure.error, ==, "rate_limit");
}

static void
test_timeouts (void)
{
  g_autoptr (TestConfig) config = config_new ();
  LctlDeployment *own = config_add (config, "a", "anthropic/a", NULL, 1);
  LctlDeployment *inherited = config_add (config, "b", "anthropic/b", NULL, 1);
  double          total = -1, first = -1;

  own->timeout = 600;
  own->stream_timeout = 30;
  config->router.timeout = 120;
  config->router.stream_timeout = 10;
  config->request_timeout = 900;

  lctl_router_deployment_timeouts (config, own, &total, &first);
  g_assert_cmpfloat (total, ==, 600);
  g_assert_cmpfloat (first, ==, 30);
  lctl_router_deployment_timeouts (config, inherited, &total, &first);
  g_assert_cmpfloat (total, ==, 120);
  g_assert_cmpfloat (first, ==, 10);
  config->router.timeout = 0;
  config->router.stream_timeout = 0;
  lctl_router_deployment_timeouts (config, inherited, &total, &first);
  g_assert_cmpfloat (total, ==, 900);
  g_assert_cmpfloat (first, ==, 0);
}

#define FIXTURE_TEST(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

int
main (int   argc,
      char *argv[])
{
  lctl_test_init (&argc, &argv);

  FIXTURE_TEST ("/router/chain/seed-sonnet", test_chain_seed_sonnet);
  FIXTURE_TEST ("/router/chain/seed-fast-failures", test_chain_seed_fast_failures);
  FIXTURE_TEST ("/router/retries/count", test_retries_count);
  FIXTURE_TEST ("/router/retries/wait", test_retries_wait);
  FIXTURE_TEST ("/router/retries/other-deployment", test_retries_other_deployment);
  FIXTURE_TEST ("/router/cooldown/enter", test_cooldown_enter);
  FIXTURE_TEST ("/router/cooldown/spread", test_cooldown_spread);
  FIXTURE_TEST ("/router/cooldown/exit", test_cooldown_exit);
  g_test_add_func ("/router/cooldown/exit-timer", test_cooldown_exit_timer);
  FIXTURE_TEST ("/router/cooldown/retry-after-cap", test_cooldown_retry_after_cap);
  FIXTURE_TEST ("/router/cooldown/reset", test_cooldown_reset);
  FIXTURE_TEST ("/router/cooldown/survives-reload", test_cooldown_survives_reload);
  FIXTURE_TEST ("/router/cooldown/ignores-client-errors", test_cooldown_ignores_client_errors);
  FIXTURE_TEST ("/router/fallbacks/context-window", test_fallbacks_context_window);
  FIXTURE_TEST ("/router/fallbacks/loop", test_fallbacks_loop);
  FIXTURE_TEST ("/router/fallbacks/depth", test_fallbacks_depth);
  FIXTURE_TEST ("/router/fallbacks/request", test_fallbacks_request);
  g_test_add_func ("/router/resolve", test_resolve);
  FIXTURE_TEST ("/router/balance/shuffle", test_balance_shuffle);
  FIXTURE_TEST ("/router/balance/least-busy", test_balance_least_busy);
  FIXTURE_TEST ("/router/balance/latency", test_balance_latency);
  g_test_add_func ("/router/property/any-healthy", test_property_any_healthy);
  FIXTURE_TEST ("/router/commit", test_commit);
  FIXTURE_TEST ("/router/last-failure-retry-after", test_last_failure_retry_after);
  g_test_add_func ("/router/timeouts", test_timeouts);
  g_test_add_func ("/router/classify", test_classify);

  return g_test_run ();
}
