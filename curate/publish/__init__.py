"""Publishing a version: its dataset card, the Hub client, the license rule, and the push itself."""
