"""Every Prometheus metric of the platform, named once (base units, ``_total`` counters).

Label sets are bounded: ``service``, ``topic``, ``event_type``, ``outcome``, HTTP ``route``
templates (never raw paths) and status codes, agency IDs from the directory.
"""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "lapor_http_requests_total",
    "HTTP requests served, by route template and status code.",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "lapor_http_request_duration_seconds",
    "Time to serve an HTTP request.",
    ["service", "method", "route"],
)
MESSAGES_CONSUMED = Counter(
    "lapor_messages_consumed_total",
    "Kafka records a consumer group finished with, by outcome "
    "(processed, duplicate, ignored, dead_lettered).",
    ["service", "topic", "event_type", "outcome"],
)
MESSAGE_HANDLING = Histogram(
    "lapor_message_handling_seconds",
    "Time to apply one event, including its transaction.",
    ["service", "event_type"],
)
HANDLER_FAILURES = Counter(
    "lapor_message_handler_failures_total",
    "Attempts at an event that raised (each one is retried or dead-lettered).",
    ["service", "event_type", "kind"],
)
RATE_LIMITED = Counter(
    "lapor_rate_limited_total",
    "Anonymous requests refused with 429 by the per-client rate limit.",
    ["service"],
)
DEAD_LETTERS = Counter(
    "lapor_dead_letters_total",
    "Records sent to a dead-letter topic.",
    ["service", "topic"],
)
CONSUMER_LAG = Gauge(
    "lapor_consumer_lag_messages",
    "Records between the committed position and the end of a partition.",
    ["service", "topic", "partition"],
)
OUTBOX_BACKLOG = Gauge(
    "lapor_outbox_backlog_messages",
    "Events stored in the outbox and not yet published.",
    ["service"],
)
OUTBOX_PUBLISHED = Counter(
    "lapor_outbox_published_total",
    "Events the outbox relay published to Kafka.",
    ["service", "topic"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "lapor_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox event (0 when empty).",
    ["service"],
)
DATABASE_COMMANDS = Counter(
    "lapor_database_commands_total",
    "Commands sent to MongoDB, by command name (find, insert, commitTransaction, ...).",
    ["service", "command", "outcome"],
)
DATABASE_COMMAND_SECONDS = Histogram(
    "lapor_database_command_duration_seconds",
    "Round trip of a MongoDB command as the driver saw it.",
    ["service", "command"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
COMPLAINTS_RECEIVED = Counter(
    "lapor_complaints_received_total",
    "Complaints accepted by intake, by channel, report type and province (2-digit code).",
    ["channel", "report_type", "province"],
)
REPORTER_ERASURES = Counter(
    "lapor_reporter_erasures_total",
    "Reporters' data erased (their report's data key destroyed), by who asked: reporter, "
    "national_admin, or retention.",
    ["requested_by"],
)
INTEGRATION_SUBMISSIONS = Counter(
    "lapor_integration_submissions_total",
    "Complaints filed by registered integration clients (agencies' apps), by client.",
    ["client"],
)
COMPLAINTS_OPEN = Gauge(
    "lapor_complaints_open",
    "Complaints by current status (open statuses only).",
    ["status"],
)
COMPLAINTS_ROUTED = Counter(
    "lapor_complaints_routed_total",
    "Routing decisions, by agency and how they were made (rule, fallback, proposal, reroute).",
    ["agency", "decided_by"],
)
ROUTING_DELAY = Histogram(
    "lapor_complaint_routing_delay_seconds",
    "Time from a complaint's submission to routing's first decision on it (the routing SLO's "
    "indicator: consumer lag and outages count against it).",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0),
)
REROUTES_GIVEN_UP = Counter(
    "lapor_reroutes_left_to_admin_total",
    "Bounced complaints routing did not re-route automatically, by why (loop, no agency left).",
    ["reason"],
)
ROUTING_DIRECTORY_CHANGES = Counter(
    "lapor_routing_directory_changes_total",
    "Edits of the routing rule table by admins, by kind (rule_put, rule_removed, agency_put).",
    ["kind"],
)
SLA_DEADLINES_SET = Counter(
    "lapor_sla_deadlines_set_total",
    "Deadlines computed, by stage.",
    ["stage"],
)
SLA_FIRINGS = Counter(
    "lapor_sla_firings_total",
    "Clock firings by kind (warn, breach, escalate, expire) and the agency that holds it.",
    ["firing", "agency"],
)
SLA_ON_TIME_RATE = Gauge(
    "lapor_sla_on_time_ratio",
    "On-time closed ÷ (closed + open overdue) per agency, from completion clocks.",
    ["agency"],
)
SLA_OPEN_OVERDUE = Gauge(
    "lapor_sla_open_overdue_complaints",
    "Complaints past their completion deadline and still open, per agency.",
    ["agency"],
)
SLA_MEDIAN_FIRST_FOLLOW_UP = Gauge(
    "lapor_sla_first_follow_up_median_seconds",
    "Median time from forwarding to the first follow-up, per agency.",
    ["agency"],
)
STANDARD_VIOLATIONS = Counter(
    "lapor_standard_violations_total",
    "Complaints whose reported experience breaks the named standard, by broken promise.",
    ["kind"],
)
NOTIFICATIONS_RECORDED = Counter(
    "lapor_notifications_recorded_total",
    "Notifications recorded for delivery, by recipient role and channel.",
    ["recipient_role", "channel"],
)
NOTIFICATION_ATTEMPTS = Counter(
    "lapor_notification_attempts_total",
    "Delivery attempts by channel and outcome (sent, retry, failed: dead-lettered).",
    ["channel", "outcome"],
)
NOTIFICATION_SEND_SECONDS = Histogram(
    "lapor_notification_send_seconds",
    "Time a channel took to accept a message.",
    ["channel"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
NOTIFICATION_QUEUE = Gauge(
    "lapor_notification_queue_messages",
    "Messages waiting or being sent, by channel and status (pending, retrying, sending): the "
    "queue, not the history (lapor_notification_attempts_total counts what was sent or failed).",
    ["channel", "status"],
)
STANDARDS_STORED = Counter(
    "lapor_standards_stored_total",
    "Service standard versions stored in the registry (drafts and publications).",
    ["agency"],
)
STANDARDS_BY_ZONE = Gauge(
    "lapor_standards_in_force",
    "Standards in force by compliance zone (green, yellow, red).",
    ["zone"],
)
STANDARDS_AGENCY_SCORE = Gauge(
    "lapor_standards_agency_score_ratio",
    "Mean completeness score of an agency's standards in force, 0 to 1.",
    ["agency"],
)
