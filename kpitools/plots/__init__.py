"""Charts of kpitools results, in the manner of seaborn: each function takes a tidy
result and an optional ``ax=``, draws on it and returns the Axes."""

from ._base import STYLE, axes, money_axis, percent_axis, rows_over_time, use_style
from .engagement import active_users_lines, lifecycle_bars, nps_trend, score_distribution
from .funnel import conversion_by_channel, funnel_bars, pipeline_trend, stage_trends, time_to_convert_hist
from .overview import sparkline, sparklines
from .retention import projection, retention_curves, retention_heatmap
from .revenue import (
    channel_bars,
    cost_breakdown,
    mrr_bridge,
    mrr_waterfall,
    rate_trends,
)

__all__ = ["STYLE", "use_style", "axes", "money_axis", "percent_axis", "rows_over_time",
           "mrr_bridge", "mrr_waterfall", "rate_trends", "channel_bars", "cost_breakdown",
           "retention_heatmap", "retention_curves", "projection", "funnel_bars",
           "conversion_by_channel", "time_to_convert_hist", "stage_trends", "pipeline_trend",
           "active_users_lines", "lifecycle_bars", "nps_trend", "score_distribution", "sparkline",
           "sparklines"]
