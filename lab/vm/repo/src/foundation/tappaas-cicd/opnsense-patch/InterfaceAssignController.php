<?php

/*
 * Lab stand-in for TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/opnsense-patch/InterfaceAssignController.php.
 * The lab's firewall serves /api/interfaces/interface_assign (as
 * lab/opnsense simulates it) once a file declaring this class is at
 * /usr/local/opnsense/mvc/app/controllers/OPNsense/Interfaces/Api/.
 */

namespace OPNsense\Interfaces\Api;

use OPNsense\Base\ApiControllerBase;

class InterfaceAssignController extends ApiControllerBase
{
}
