-- Argo CD health check for dumplens.io/Dump. It follows the Dump's conditions (kstatus):
-- Stalled=True is Degraded, Ready=True is Healthy, anything else is still Progressing. An
-- Expired Dump (TTL run out, sandbox dropped, resource kept so GitOps does not recreate it)
-- is Suspended: finished on purpose, not broken.
local hs = {}
if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting: the operator is dropping the sandbox"
  return hs
end
if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator"
  return hs
end
if obj.metadata ~= nil and obj.metadata.generation ~= nil and
   (obj.status.observedGeneration == nil or obj.status.observedGeneration < obj.metadata.generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to see the latest spec"
  return hs
end
if obj.status.phase == "Expired" then
  hs.status = "Suspended"
  hs.message = obj.status.message or "Expired: the sandbox was dropped"
  return hs
end
local ready = nil
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Stalled" and condition.status == "True" then
      hs.status = "Degraded"
      hs.message = condition.message or obj.status.message or "The restore failed"
      return hs
    end
    if condition.type == "Ready" then
      ready = condition
    end
  end
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Ready"
  return hs
end
hs.status = "Progressing"
hs.message = obj.status.message or (obj.status.phase or "Pending")
return hs
