"""Moved to :mod:`consentry.formats.robots` (robots.txt read and written in one place); kept so old imports work."""

from consentry.formats.robots import (
    PARSE_LIMIT_BYTES, CrawlDecision, RobotsFile, RobotsGroup, RobotsRule, content_usage_for, first_matching_rule,
    is_product_token, match_crawler, misread_user_agents, parse_robots,
)
