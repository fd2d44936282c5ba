-- One database per process (the referrals database is created by POSTGRES_DB).
CREATE DATABASE careplans;
CREATE DATABASE gateway;
CREATE DATABASE transitions;
