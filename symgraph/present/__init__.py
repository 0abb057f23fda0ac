"""What people read: LaTeX, drawings, step-by-step walkthroughs, command-line output."""
