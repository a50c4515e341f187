"""Analytical CRM: value metrics (CLV, RFM, churn risk), cohorts and recommendations
over the hub's orders and timeline."""
