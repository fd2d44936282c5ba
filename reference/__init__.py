"""The partnership's reference data: boroughs, trusts, teams and the workers in them.

One source for every process: the referrals service reads its directory from here, and the
gateway seeds its Organization, HealthcareService and PractitionerRole resources from it.
Figures and names come from the requirements (section 7.2) and the seed documents they cite.
"""
