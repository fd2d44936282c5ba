"""The referrals service: internal referrals between teams, with waiting-with-support."""
