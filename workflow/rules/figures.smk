# Stage: figures. Rules are added by the owner of this stage.
