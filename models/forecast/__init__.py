"""Forecasts of one series by explicit candidates, chosen and calibrated on rolling-origin
backtests of the series itself (``pipeline.choose_forecast``)."""
