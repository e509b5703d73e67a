"""Trials: sites, beds, trials, factors, treatments, plots, variables, observations,
their history, photos and notes.

Revision ID: 0001_trials
Revises:
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_trials"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("latitude_deg", sa.Float(), nullable=True),
        sa.Column("longitude_deg", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("latitude_deg BETWEEN -90 AND 90", name=op.f("ck_sites_latitude")),
        sa.CheckConstraint("longitude_deg BETWEEN -180 AND 180", name=op.f("ck_sites_longitude")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("name", name=op.f("uq_sites_name")),
    )
    op.create_table(
        "trials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("design", sa.String(length=60), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("protocol", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trials")),
        sa.UniqueConstraint("name", name=op.f("uq_trials_name")),
    )
    op.create_table(
        "beds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("size_x_mm", sa.Float(), nullable=False),
        sa.Column("size_y_mm", sa.Float(), nullable=False),
        sa.CheckConstraint("size_x_mm > 0 AND size_y_mm > 0", name=op.f("ck_beds_positive_size")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_beds_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_beds")),
        sa.UniqueConstraint("id", "site_id", name=op.f("uq_beds_id_site_id")),
        sa.UniqueConstraint("site_id", "name", name=op.f("uq_beds_site_id_name")),
    )
    op.create_index(op.f("ix_beds_site_id"), "beds", ["site_id"], unique=False)
    op.create_table(
        "factors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_factors_trial_id_trials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_factors")),
        sa.UniqueConstraint("trial_id", "name", name=op.f("uq_factors_trial_id_name")),
    )
    op.create_index(op.f("ix_factors_trial_id"), "factors", ["trial_id"], unique=False)
    op.create_table(
        "observation_variables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("scale", sa.String(length=16), nullable=False),
        sa.Column("minimum", sa.Float(), nullable=True),
        sa.Column("maximum", sa.Float(), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "scale IN ('numeric', 'ordinal', 'categorical', 'date')",
            name=op.f("ck_observation_variables_scale"),
        ),
        sa.CheckConstraint("minimum <= maximum", name=op.f("ck_observation_variables_bounds")),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_observation_variables_trial_id_trials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation_variables")),
        sa.UniqueConstraint("id", "trial_id", name=op.f("uq_observation_variables_id_trial_id")),
        sa.UniqueConstraint(
            "trial_id", "name", name=op.f("uq_observation_variables_trial_id_name")
        ),
    )
    op.create_index(
        op.f("ix_observation_variables_trial_id"),
        "observation_variables",
        ["trial_id"],
        unique=False,
    )
    op.create_table(
        "treatments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("is_check", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_treatments_trial_id_trials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treatments")),
        sa.UniqueConstraint("id", "trial_id", name=op.f("uq_treatments_id_trial_id")),
        sa.UniqueConstraint("trial_id", "label", name=op.f("uq_treatments_trial_id_label")),
    )
    op.create_index(op.f("ix_treatments_trial_id"), "treatments", ["trial_id"], unique=False)
    op.create_table(
        "factor_levels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("factor_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["factor_id"], ["factors.id"], name=op.f("fk_factor_levels_factor_id_factors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_factor_levels")),
        sa.UniqueConstraint("factor_id", "name", name=op.f("uq_factor_levels_factor_id_name")),
    )
    op.create_index(
        op.f("ix_factor_levels_factor_id"), "factor_levels", ["factor_id"], unique=False
    )
    op.create_table(
        "plots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("bed_id", sa.Integer(), nullable=False),
        sa.Column("plot_number", sa.Integer(), nullable=False),
        sa.Column("block", sa.Integer(), nullable=True),
        sa.Column("row", sa.Integer(), nullable=True),
        sa.Column("col", sa.Integer(), nullable=True),
        sa.Column("treatment_id", sa.Integer(), nullable=False),
        sa.Column("is_check", sa.Boolean(), nullable=False),
        sa.Column("x_min_mm", sa.Float(), nullable=False),
        sa.Column("x_max_mm", sa.Float(), nullable=False),
        sa.Column("y_min_mm", sa.Float(), nullable=False),
        sa.Column("y_max_mm", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "x_min_mm < x_max_mm AND y_min_mm < y_max_mm", name=op.f("ck_plots_rectangle")
        ),
        sa.ForeignKeyConstraint(
            ["bed_id", "site_id"],
            ["beds.id", "beds.site_id"],
            name=op.f("fk_plots_bed_id_site_id_beds"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_plots_site_id_sites")),
        sa.ForeignKeyConstraint(
            ["treatment_id", "trial_id"],
            ["treatments.id", "treatments.trial_id"],
            name=op.f("fk_plots_treatment_id_trial_id_treatments"),
        ),
        sa.ForeignKeyConstraint(["trial_id"], ["trials.id"], name=op.f("fk_plots_trial_id_trials")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plots")),
        sa.UniqueConstraint("id", "trial_id", name=op.f("uq_plots_id_trial_id")),
        sa.UniqueConstraint("trial_id", "plot_number", name=op.f("uq_plots_trial_id_plot_number")),
    )
    op.create_index(op.f("ix_plots_trial_id"), "plots", ["trial_id"], unique=False)
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("plot_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=120), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plot_id", "trial_id"],
            ["plots.id", "plots.trial_id"],
            name=op.f("fk_notes_plot_id_trial_id_plots"),
        ),
        sa.ForeignKeyConstraint(["trial_id"], ["trials.id"], name=op.f("fk_notes_trial_id_trials")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    op.create_index(op.f("ix_notes_plot_id"), "notes", ["plot_id"], unique=False)
    op.create_index(op.f("ix_notes_trial_id"), "notes", ["trial_id"], unique=False)
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("plot_id", sa.Integer(), nullable=False),
        sa.Column("variable_id", sa.Integer(), nullable=False),
        sa.Column("value_num", sa.Float(), nullable=True),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorder_kind", sa.String(length=16), nullable=False),
        sa.Column("recorder", sa.String(length=120), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "recorder_kind IN ('robot', 'person', 'import')",
            name=op.f("ck_observations_recorder_kind"),
        ),
        sa.CheckConstraint(
            "(value_num IS NULL) <> (value_text IS NULL)", name=op.f("ck_observations_one_value")
        ),
        sa.ForeignKeyConstraint(
            ["plot_id", "trial_id"],
            ["plots.id", "plots.trial_id"],
            name=op.f("fk_observations_plot_id_trial_id_plots"),
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_observations_trial_id_trials")
        ),
        sa.ForeignKeyConstraint(
            ["variable_id", "trial_id"],
            ["observation_variables.id", "observation_variables.trial_id"],
            name=op.f("fk_observations_variable_id_trial_id_observation_variables"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
    )
    op.create_index(op.f("ix_observations_plot_id"), "observations", ["plot_id"], unique=False)
    op.create_index(op.f("ix_observations_trial_id"), "observations", ["trial_id"], unique=False)
    op.create_index(
        op.f("ix_observations_variable_id"), "observations", ["variable_id"], unique=False
    )
    op.create_table(
        "photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plot_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("camera_x_mm", sa.Float(), nullable=False),
        sa.Column("camera_y_mm", sa.Float(), nullable=False),
        sa.Column("camera_z_mm", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["plot_id"], ["plots.id"], name=op.f("fk_photos_plot_id_plots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photos")),
    )
    op.create_index(op.f("ix_photos_plot_id"), "photos", ["plot_id"], unique=False)
    op.create_table(
        "treatment_levels",
        sa.Column("treatment_id", sa.Integer(), nullable=False),
        sa.Column("level_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["level_id"],
            ["factor_levels.id"],
            name=op.f("fk_treatment_levels_level_id_factor_levels"),
        ),
        sa.ForeignKeyConstraint(
            ["treatment_id"],
            ["treatments.id"],
            name=op.f("fk_treatment_levels_treatment_id_treatments"),
        ),
        sa.PrimaryKeyConstraint("treatment_id", "level_id", name=op.f("pk_treatment_levels")),
    )
    op.create_table(
        "observation_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("old_value_num", sa.Float(), nullable=True),
        sa.Column("old_value_text", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(length=120), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["observations.id"],
            name=op.f("fk_observation_history_observation_id_observations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation_history")),
        sa.UniqueConstraint(
            "observation_id", "version", name=op.f("uq_observation_history_observation_id_version")
        ),
    )
    op.create_index(
        op.f("ix_observation_history_observation_id"),
        "observation_history",
        ["observation_id"],
        unique=False,
    )


def downgrade() -> None:
    # Dropping a table drops its indexes; children go before the tables they refer to.
    op.drop_table("observation_history")
    op.drop_table("treatment_levels")
    op.drop_table("photos")
    op.drop_table("observations")
    op.drop_table("notes")
    op.drop_table("plots")
    op.drop_table("factor_levels")
    op.drop_table("treatments")
    op.drop_table("observation_variables")
    op.drop_table("factors")
    op.drop_table("beds")
    op.drop_table("trials")
    op.drop_table("sites")
