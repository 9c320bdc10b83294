-- First start of the Postgres container: one database per service (each service owns its own).
CREATE DATABASE orders;
CREATE DATABASE payments;
