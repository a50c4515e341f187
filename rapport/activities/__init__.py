"""Activities: tasks, calls and meetings with reminders, on the customer's timeline."""
