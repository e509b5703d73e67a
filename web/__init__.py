"""The web application: trial dashboards, robot status and control, the student editor."""
