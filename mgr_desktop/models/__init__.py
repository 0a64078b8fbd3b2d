"""Genre models, the name -> builder registry, and safe checkpoint files."""
