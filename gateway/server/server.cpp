// placeholder until the session lands
